// A cluster's storage node serves only the keys whose partition its syncgroup owns in the layout it knows. Any
// other keyed call is refused with WrongPartitionError (retryable: the gateway refreshes its layout and retries),
// so a gateway with an old or wrong layout can never place an object where no reader will look for it.
// Calls over a whole bucket (listing, emptiness, drop, stats) and the replica key scan are not keyed and pass.
import { type Layout, routeKey } from '../common/layout.ts';
import type {
  CopyDestination,
  CopySource,
  DeleteOptions,
  PutObjectInput,
  RemoveObjectInput,
  StorageApi,
  UpdateAttributesInput,
  UploadPartCopyInput,
  UploadPartInput,
} from './api.ts';
import { StorageError, WrongPartitionError } from './errors.ts';
import type { ApplyReplicaInput, ApplyUploadInput, ReplicaApi, ReplicaEnd } from './replica-api.ts';

export class PartitionGuard implements StorageApi, ReplicaApi {
  private layout: Layout | undefined;

  constructor(
    private readonly inner: StorageApi & Partial<ReplicaEnd>,
    readonly syncgroup: string,
    layout?: Layout,
  ) {
    this.layout = layout;
  }

  /** A layout from the tracker; an older version than the one held is ignored. */
  setLayout(layout: Layout): void {
    if (!this.layout || layout.version >= this.layout.version) this.layout = layout;
  }

  get layoutVersion(): number | undefined {
    return this.layout?.version;
  }

  private check(bucket: string, key: Buffer): void {
    if (!this.layout) throw new WrongPartitionError('this node has no layout from the tracker yet');
    const owner = routeKey(this.layout, bucket, key);
    if (owner !== this.syncgroup)
      throw new WrongPartitionError(
        `layout ${this.layout.version} places this key in syncgroup ${owner}, not ${this.syncgroup}`,
      );
  }

  async putObject(input: PutObjectInput) {
    this.check(input.bucket, input.key);
    return this.inner.putObject(input);
  }
  async headObject(...args: Parameters<StorageApi['headObject']>) {
    this.check(args[0], args[1]);
    return this.inner.headObject(...args);
  }
  async openObject(...args: Parameters<StorageApi['openObject']>) {
    this.check(args[0], args[1]);
    return this.inner.openObject(...args);
  }
  async deleteObject(bucket: string, key: Buffer, opts?: DeleteOptions) {
    this.check(bucket, key);
    return this.inner.deleteObject(bucket, key, opts);
  }
  async removeObject(input: RemoveObjectInput) {
    this.check(input.bucket, input.key);
    return this.inner.removeObject(input);
  }
  async updateObjectAttributes(input: UpdateAttributesInput) {
    this.check(input.bucket, input.key);
    return this.inner.updateObjectAttributes(input);
  }
  listObjectVersions(...args: Parameters<StorageApi['listObjectVersions']>) {
    return this.inner.listObjectVersions(...args);
  }
  async copyObject(src: CopySource, dst: CopyDestination) {
    this.check(src.bucket, src.key);
    this.check(dst.bucket, dst.key);
    return this.inner.copyObject(src, dst);
  }
  listObjects(...args: Parameters<StorageApi['listObjects']>) {
    return this.inner.listObjects(...args);
  }
  hasObjects(bucket: string) {
    return this.inner.hasObjects(bucket);
  }
  dropBucket(bucket: string) {
    return this.inner.dropBucket(bucket);
  }
  async createUpload(...args: Parameters<StorageApi['createUpload']>) {
    this.check(args[0], args[1]);
    return this.inner.createUpload(...args);
  }
  async uploadPart(input: UploadPartInput) {
    this.check(input.bucket, input.key);
    return this.inner.uploadPart(input);
  }
  async uploadPartCopy(input: UploadPartCopyInput) {
    this.check(input.bucket, input.key);
    this.check(input.src.bucket, input.src.key);
    return this.inner.uploadPartCopy(input);
  }
  async completeUpload(...args: Parameters<StorageApi['completeUpload']>) {
    this.check(args[0], args[1]);
    return this.inner.completeUpload(...args);
  }
  async abortUpload(bucket: string, key: Buffer, uploadId: string) {
    this.check(bucket, key);
    return this.inner.abortUpload(bucket, key, uploadId);
  }
  async listParts(...args: Parameters<StorageApi['listParts']>) {
    this.check(args[0], args[1]);
    return this.inner.listParts(...args);
  }
  listUploads(...args: Parameters<StorageApi['listUploads']>) {
    return this.inner.listUploads(...args);
  }
  stats() {
    return this.inner.stats();
  }
  // Replication: per key like the calls above; the key scan is over the whole node.
  async replicaStates(bucket: string, key: Buffer) {
    this.check(bucket, key);
    return this.replica().replicaStates(bucket, key);
  }
  async applyReplica(input: ApplyReplicaInput) {
    this.check(input.state.bucket, input.state.key);
    return this.replica().applyReplica(input);
  }
  scanKeys(opts: Parameters<ReplicaApi['scanKeys']>[0]) {
    return this.replica().scanKeys(opts);
  }
  async uploadStates(bucket: string, key: Buffer) {
    this.check(bucket, key);
    return this.replica().uploadStates(bucket, key);
  }
  async applyUpload(input: ApplyUploadInput) {
    this.check(input.state.bucket, input.state.key);
    return this.replica().applyUpload(input);
  }
  async openPart(bucket: string, key: Buffer, uploadId: string, partNumber: number) {
    this.check(bucket, key);
    const r = this.inner;
    if (!r.openPart) throw new StorageError('InvalidArgument', 'this node does not replicate');
    return r.openPart(bucket, key, uploadId, partNumber);
  }
  private replica(): ReplicaApi {
    const r = this.inner;
    if (!r.replicaStates || !r.applyReplica || !r.scanKeys || !r.uploadStates || !r.applyUpload)
      throw new StorageError('InvalidArgument', 'this node does not replicate');
    return r as ReplicaApi;
  }
  close() {
    return this.inner.close();
  }
}
