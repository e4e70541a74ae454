//! The API server. (Being written.)
