//! The Kubernetes protobuf wire format (`application/vnd.kubernetes.protobuf`) to and from the
//! JSON form of objects.
//!
//! A body is the magic `k8s\0` followed by a `runtime.Unknown` message
//! {1: TypeMeta {1: apiVersion, 2: kind}, 2: raw (the object's own message), 3: contentEncoding,
//! 4: contentType}. Objects are translated field by field with a descriptor table covering every
//! built-in API message; see `descriptors.rs` for how it is generated and regenerated
//! (`cargo run -p protobuf-codec --example generate`).
//!
//! Differences from a Go API server's view of the same bytes: Go writes every non-pointer scalar
//! (empty strings, zeros, false) to protobuf; decoding drops those on `omitempty` fields, as Go's
//! JSON would, but keeps them on required fields and on pointer fields whose documentation says
//! an explicit zero is meaningful (such as `spec.replicas`).

mod decode;
mod descriptors;
mod encode;
mod error;
mod gotime;
mod wellknown;
mod wire;

pub use decode::decode;
pub use encode::encode;
pub use error::{DecodeError, EncodeError};

/// The four bytes every Kubernetes protobuf body starts with.
pub const MAGIC: &[u8] = b"k8s\0";

/// The media type of Kubernetes protobuf bodies.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Whether a `Content-Type` names a single protobuf object (not a `stream=watch` stream, whose
/// frames are length-prefixed).
pub fn is_protobuf(content_type: &str) -> bool {
    let mut parts = content_type.split(';').map(str::trim);
    let media_type = parts.next().unwrap_or_default();
    media_type.eq_ignore_ascii_case(CONTENT_TYPE)
        && !parts.any(|param| param.replace(' ', "").eq_ignore_ascii_case("stream=watch"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_the_protobuf_media_type() {
        assert!(is_protobuf("application/vnd.kubernetes.protobuf"));
        assert!(is_protobuf("Application/VND.Kubernetes.Protobuf; charset=utf-8"));
        assert!(!is_protobuf("application/vnd.kubernetes.protobuf;stream=watch"));
        assert!(!is_protobuf("application/json"));
        assert!(!is_protobuf(""));
    }
}
