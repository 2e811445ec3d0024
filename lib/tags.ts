/**
 * The contract's rule for a tag ("Routing by tag"): a batch's `tag`, each of a worker's
 * `WORKER_TAGS`, and the tag a lease asks for. A batch without one has `DEFAULT_TAG`.
 */
export const TAG_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/;
export const DEFAULT_TAG = 'default';
