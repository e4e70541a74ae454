//! Kubernetes protobuf. (Being written.)
