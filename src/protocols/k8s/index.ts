/**
 * `wsengine/k8s`: the Kubernetes exec/attach channel protocols, and `exec` with Node streams.
 * For browsers: `wsengine/k8s/browser`.
 */
export * from './shared.js';
export { exec, type ExecOptions, type ExecSession } from './node.js';
