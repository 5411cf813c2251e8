// The one catalogue of S3 errors: each code with AWS's HTTP status and default message.
// Every rejection the gateway sends is built from here; an unknown failure becomes InternalError.

export const S3_ERRORS = {
  AccessDenied: [403, 'Access Denied'],
  AuthorizationHeaderMalformed: [400, 'The authorization header is malformed.'],
  AuthorizationQueryParametersError: [400, 'Error parsing the X-Amz-Credential parameter.'],
  BadDigest: [400, 'The Content-MD5 you specified did not match what we received.'],
  BucketAlreadyExists: [409, 'The requested bucket name is not available.'],
  BucketAlreadyOwnedByYou: [
    409,
    'Your previous request to create the named bucket succeeded and you already own it.',
  ],
  BucketNotEmpty: [409, 'The bucket you tried to delete is not empty.'],
  EntityTooLarge: [400, 'Your proposed upload exceeds the maximum allowed object size.'],
  EntityTooSmall: [400, 'Your proposed upload is smaller than the minimum allowed object size.'],
  ExpiredToken: [400, 'The provided token has expired.'],
  IllegalVersioningConfigurationException: [
    400,
    'The versioning configuration specified in the request is invalid.',
  ],
  IncompleteBody: [
    400,
    'You did not provide the number of bytes specified by the Content-Length HTTP header.',
  ],
  InsufficientStorage: [507, 'Insufficient storage space is available to complete the request.'],
  InternalError: [500, 'We encountered an internal error. Please try again.'],
  InvalidAccessKeyId: [403, 'The AWS Access Key Id you provided does not exist in our records.'],
  InvalidArgument: [400, 'Invalid Argument'],
  InvalidBucketName: [400, 'The specified bucket is not valid.'],
  InvalidBucketState: [409, 'The request is not valid with the current state of the bucket.'],
  InvalidDigest: [400, 'The Content-MD5 you specified is not valid.'],
  InvalidPart: [400, 'One or more of the specified parts could not be found.'],
  InvalidPartOrder: [400, 'The list of parts was not in ascending order.'],
  InvalidRange: [416, 'The requested range is not satisfiable'],
  InvalidRequest: [400, 'Invalid Request'],
  InvalidURI: [400, "Couldn't parse the specified URI."],
  KeyTooLongError: [400, 'Your key is too long'],
  MalformedTrailerError: [
    400,
    'The request contained trailing data that was not well-formed or did not conform to our published schema.',
  ],
  MalformedXML: [
    400,
    'The XML you provided was not well-formed or did not validate against our published schema',
  ],
  MaxMessageLengthExceeded: [400, 'Your request was too big.'],
  MetadataTooLarge: [400, 'Your metadata headers exceed the maximum allowed metadata size.'],
  MethodNotAllowed: [405, 'The specified method is not allowed against this resource.'],
  MissingContentLength: [411, 'You must provide the Content-Length HTTP header.'],
  MissingSecurityHeader: [400, 'Your request is missing a required header.'],
  NoSuchBucket: [404, 'The specified bucket does not exist'],
  NoSuchKey: [404, 'The specified key does not exist.'],
  NoSuchVersion: [404, 'The specified version does not exist.'],
  NoSuchObjectLockConfiguration: [404, 'The specified object does not have a ObjectLock configuration'],
  ObjectLockConfigurationNotFoundError: [404, 'Object Lock configuration does not exist for this bucket'],
  NoSuchUpload: [
    404,
    'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
  ],
  NotImplemented: [501, 'A header you provided implies functionality that is not implemented'],
  PreconditionFailed: [412, 'At least one of the pre-conditions you specified did not hold'],
  RequestHeaderSectionTooLarge: [400, 'Your request header section exceeds the maximum allowed size.'],
  RequestTimeout: [
    400,
    'Your socket connection to the server was not read from or written to within the timeout period.',
  ],
  RequestTimeTooSkewed: [403, 'The difference between the request time and the current time is too large.'],
  SignatureDoesNotMatch: [
    403,
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
  ],
  ServiceUnavailable: [503, 'Please reduce your request rate.'],
  XAmzContentSHA256Mismatch: [
    400,
    "The provided 'x-amz-content-sha256' header does not match what was computed.",
  ],
  IllegalLocationConstraintException: [
    400,
    'The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.',
  ],
  InvalidPartNumber: [400, 'The requested partnumber is not satisfiable'],
  InvalidLocationConstraint: [400, 'The specified location constraint is not valid.'],
  NotModified: [304, 'Not Modified'],
  // Website, CORS and browser POST uploads (gateway/website, gateway/cors, handlers/post-object.ts).
  AccessForbidden: [403, 'CORSResponse: This CORS request is not allowed.'],
  InvalidPolicyDocument: [400, 'Invalid Policy: Invalid JSON.'],
  MalformedPOSTRequest: [400, 'The body of your POST request is not well-formed multipart/form-data.'],
  IncorrectNumberOfFilesInPostRequest: [400, 'POST requires exactly one file upload per request.'],
  MaxPostPreDataLengthExceeded: [400, 'Your POST request fields preceding the upload file were too large.'],
  NoSuchCORSConfiguration: [404, 'The CORS configuration does not exist'],
  NoSuchWebsiteConfiguration: [404, 'The specified bucket does not have a website configuration'],
  BadRequest: [400, 'Bad Request'],
  InvalidTag: [400, 'The tag provided was not a valid tag.'],
  NoSuchTagSet: [404, 'The TagSet does not exist'],
  NoSuchLifecycleConfiguration: [404, 'The lifecycle configuration does not exist'],
  InvalidStorageClass: [400, 'The storage class you specified is not valid'],
  MalformedPolicy: [400, "Policies must be valid JSON and the first byte must be '{'"],
  NoSuchBucketPolicy: [404, 'The bucket policy does not exist'],
  MalformedACLError: [
    400,
    'The XML you provided was not well-formed or did not validate against our published schema',
  ],
  UnresolvableGrantByEmailAddress: [
    400,
    'The email address you provided does not match any account on record.',
  ],
  AccessControlListNotSupported: [400, 'The bucket does not allow ACLs'],
  InvalidBucketAclWithObjectOwnership: [
    400,
    "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
  ],
  OwnershipControlsNotFoundError: [404, 'The bucket ownership controls were not found'],
  UnexpectedContent: [400, 'This request does not support content'],
  NoSuchPublicAccessBlockConfiguration: [404, 'The public access block configuration was not found'],
} as const satisfies Record<string, readonly [number, string]>;

export type S3ErrorCode = keyof typeof S3_ERRORS;

/** An error that reaches the client as S3 error XML with AWS's code and status. */
export class S3Error extends Error {
  readonly code: S3ErrorCode;
  readonly status: number;
  /** Extra elements for the error XML (e.g. BucketName, Key, ArgumentName), in order. */
  readonly details: Readonly<Record<string, string>>;
  /** Extra response headers (e.g. x-amz-checksum-* on mismatch is NOT sent; used for Last-Modified on 304). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: S3ErrorCode,
    message?: string,
    details: Record<string, string> = {},
    headers: Record<string, string> = {},
  ) {
    const [status, defaultMessage] = S3_ERRORS[code];
    super(message ?? defaultMessage);
    this.name = 'S3Error';
    this.code = code;
    this.status = status;
    this.details = details;
    this.headers = headers;
  }
}

export function isS3Error(err: unknown): err is S3Error {
  return err instanceof S3Error;
}
