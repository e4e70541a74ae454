//! Header block tests: the uncompressed format, round trips through one compressor and one
//! decompressor, and blocks compressed by other SPDY/3 implementations.

use super::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn block_format_groups_values_and_lowercases_names() {
    let headers = Headers::new().with("StreamType", "data").with("x-a", "1").with("X-A", "2");
    let block = headers.to_block();
    let mut want = Vec::new();
    want.extend_from_slice(&2u32.to_be_bytes());
    want.extend_from_slice(&10u32.to_be_bytes());
    want.extend_from_slice(b"streamtype");
    want.extend_from_slice(&4u32.to_be_bytes());
    want.extend_from_slice(b"data");
    want.extend_from_slice(&3u32.to_be_bytes());
    want.extend_from_slice(b"x-a");
    want.extend_from_slice(&3u32.to_be_bytes());
    want.extend_from_slice(b"1\x002");
    assert_eq!(block, want);
    let back = Headers::from_block(&block).unwrap();
    assert_eq!(back, headers);
    assert_eq!(back.get("x-a"), Some("1"));
    assert_eq!(back.get_all("X-A").collect::<Vec<_>>(), ["1", "2"]);
    assert_eq!(back.get("streamType"), Some("data"));
}

#[test]
fn empty_block_round_trips() {
    let block = Headers::new().to_block();
    assert_eq!(block, [0, 0, 0, 0]);
    assert!(Headers::from_block(&block).unwrap().is_empty());
}

#[test]
fn malformed_blocks_are_rejected() {
    assert!(Headers::from_block(&[0, 0]).is_err());
    assert!(Headers::from_block(&[0, 0, 0, 9, 0, 0, 0, 1]).is_err());
    let mut long_name = vec![0, 0, 0, 1, 0, 0, 0, 200];
    long_name.extend_from_slice(b"abc\0\0\0\0");
    assert!(Headers::from_block(&long_name).is_err());
    let mut trailing = Headers::new().with("a", "b").to_block();
    trailing.push(0);
    assert!(Headers::from_block(&trailing).is_err());
}

#[test]
fn insert_replaces_and_forbidden_is_found() {
    let mut headers = Headers::new().with("a", "1").with("a", "2");
    headers.insert("A", "3");
    assert_eq!(headers.get_all("a").collect::<Vec<_>>(), ["3"]);
    assert_eq!(headers.forbidden(), None);
    headers.append("Host", "example");
    assert_eq!(headers.forbidden(), Some("host"));
}

#[test]
fn compressed_round_trips_share_context_across_blocks() {
    let mut tx = HeaderCompressor::new();
    let mut rx = HeaderDecompressor::new();
    let blocks = [
        Headers::new().with("streamtype", "error").with("port", "8080").with("requestid", "0"),
        Headers::new().with("streamtype", "data").with("port", "8080").with("requestid", "0"),
        Headers::new(),
        Headers::new().with("x-stream-protocol-version", "v4.channel.k8s.io").with("streamtype", "stdin"),
        (0..200).map(|i| (format!("name-{i}"), "v".repeat(i))).collect(),
    ];
    let mut sizes = Vec::new();
    for headers in &blocks {
        let mut wire = Vec::new();
        tx.compress(headers, &mut wire).unwrap();
        assert!(wire.ends_with(&[0, 0, 0xff, 0xff]), "each block ends on a sync flush");
        sizes.push(wire.len());
        assert_eq!(&rx.decompress(&wire).unwrap(), headers);
    }
    // The second block repeats most of the first, so the shared context makes it tiny.
    assert!(sizes[1] < sizes[0] / 2, "{sizes:?}");
}

#[test]
fn first_block_announces_the_spdy3_dictionary() {
    let mut wire = Vec::new();
    HeaderCompressor::new().compress(&Headers::new().with("a", "b"), &mut wire).unwrap();
    assert_eq!(wire[0] & 0x0f, 8, "deflate");
    assert_ne!(wire[1] & 0x20, 0, "FDICT set");
    assert_eq!(u16::from_be_bytes([wire[0], wire[1]]) % 31, 0, "zlib header check bits");
    assert_eq!(u32::from_be_bytes([wire[2], wire[3], wire[4], wire[5]]), DICTIONARY_ID);
}

/// A SYN_STREAM header block from Chromium's SPDY/3 framer tests (`bar: foo`, `foo: bar`,
/// compressed with a 2 KiB window); checked independently with C zlib and the dictionary.
#[test]
fn decodes_a_chromium_block() {
    let block = hex("38ea e3c6 a7c2 02e5 0e50 c24b 4a04 e50b e6b4 fc7c 240a 2808 0000 00ff ff");
    let headers = HeaderDecompressor::new().decompress(&block).unwrap();
    assert_eq!(headers, Headers::new().with("bar", "foo").with("foo", "bar"));
}

/// Two consecutive blocks from one C zlib stream at level 9 (as Go's framer compresses),
/// produced with Python's zlib and the spec's dictionary: port-forward's error and data
/// stream headers. The second block back-references the first.
#[test]
fn decodes_consecutive_blocks_from_c_zlib() {
    let first =
        hex("78f9e3c6a7c202253a703a2b294a4dcc851625aca9a0808614cb45e01c6061606100a4398b20d198094ade8c0600000000ffff");
    let second = hex("c2aa19540e2512d60b000000ffff");
    let mut rx = HeaderDecompressor::new();
    let want = |kind: &str| Headers::new().with("streamtype", kind).with("port", "8080").with("requestid", "0");
    assert_eq!(rx.decompress(&first).unwrap(), want("error"));
    assert_eq!(rx.decompress(&second).unwrap(), want("data"));
}

#[test]
fn a_block_without_the_first_one_fails() {
    let second = hex("c2aa19540e2512d60b000000ffff");
    assert!(HeaderDecompressor::new().decompress(&second).is_err());
}

#[test]
fn a_stream_with_another_dictionary_is_rejected() {
    // SPDY/2's dictionary id (0xdfa251b2) in an otherwise valid zlib header.
    let block = hex("78bb dfa2 51b2 6260 6260 01e5 12");
    let err = HeaderDecompressor::new().decompress(&block).unwrap_err();
    assert!(matches!(err, Error::Decompress(_)), "{err}");
}
