/** The operator's install defaults, apart from the manifests so `baton manifests --help` loads nothing else. */

/** Namespace the operator is installed in unless told otherwise. */
export const DEFAULT_NAMESPACE = 'baton-system';
/** Image of the operator unless told otherwise. */
export const DEFAULT_IMAGE = 'ghcr.io/baton-dev/baton:0.1.0';
