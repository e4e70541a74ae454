//! The type graph of the served kinds, from k8s-openapi's schemas, with each field's
//! merge strategy: what strategic merge patch and server-side apply navigate by.
