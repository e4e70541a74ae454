//! The cluster PKI. (Being written.)
