// The website endpoint answers errors as HTML pages, shaped like AWS's website endpoints (never S3 XML).
import { STATUS_CODES } from 'node:http';

export interface HtmlError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  /** Extra list items in order (Key, BucketName, Method, ...). */
  readonly details?: Readonly<Record<string, string>>;
  /** Response headers the error carries (Content-Range of a 416). */
  readonly headers?: Readonly<Record<string, string>>;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function items(e: { code: string; message: string; details?: Readonly<Record<string, string>> }): string {
  const lines = [`<li>Code: ${escapeHtml(e.code)}</li>`, `<li>Message: ${escapeHtml(e.message)}</li>`];
  for (const [name, value] of Object.entries(e.details ?? {})) {
    lines.push(`<li>${escapeHtml(name)}: ${escapeHtml(value)}</li>`);
  }
  return lines.join('\n');
}

/**
 * The page for an error. When the bucket's own error document could not be served, a second section says
 * why, as AWS does.
 */
export function errorPage(e: HtmlError, requestId: string, errorDocumentFailure?: HtmlError): string {
  const title = `${e.status} ${STATUS_CODES[e.status] ?? 'Error'}`;
  const parts = [
    '<html>',
    `<head><title>${title}</title></head>`,
    '<body>',
    `<h1>${title}</h1>`,
    '<ul>',
    items(e),
    `<li>RequestId: ${escapeHtml(requestId)}</li>`,
    `<li>HostId: ${escapeHtml(requestId)}</li>`,
    '</ul>',
  ];
  if (errorDocumentFailure !== undefined) {
    parts.push(
      '<h3>An Error Occurred While Attempting to Retrieve a Custom Error Document</h3>',
      '<ul>',
      items(errorDocumentFailure),
      '</ul>',
    );
  }
  parts.push('<hr/>', '</body>', '</html>', '');
  return parts.join('\n');
}
