//! Codec tests: every frame type round trips, the fixed layouts match the SPDY/3 spec byte
//! for byte, a frame from another implementation decodes, and partial or unknown input is
//! handled as the protocol says.

use super::*;

fn round_trip(frames: &[Frame]) {
    let mut encoder = FrameEncoder::new();
    let mut decoder = FrameDecoder::new();
    let mut wire = BytesMut::new();
    for frame in frames {
        encoder.encode(frame, &mut wire).unwrap();
    }
    for frame in frames {
        assert_eq!(decoder.decode(&mut wire).unwrap().as_ref(), Some(frame));
    }
    assert!(wire.is_empty());
    assert_eq!(decoder.decode(&mut wire).unwrap(), None);
}

fn encode(frame: &Frame) -> Vec<u8> {
    let mut wire = BytesMut::new();
    FrameEncoder::new().encode(frame, &mut wire).unwrap();
    wire.to_vec()
}

#[test]
fn every_frame_type_round_trips() {
    let headers = Headers::new().with("streamtype", "stdout").with("x-stream-protocol-version", "v4.channel.k8s.io");
    round_trip(&[
        Frame::SynStream {
            stream_id: 1,
            associated_stream_id: 0,
            priority: 0,
            slot: 0,
            fin: false,
            unidirectional: false,
            headers: headers.clone(),
        },
        Frame::SynStream {
            stream_id: 3,
            associated_stream_id: 1,
            priority: 7,
            slot: 2,
            fin: true,
            unidirectional: true,
            headers: Headers::new(),
        },
        Frame::SynReply { stream_id: 1, fin: false, headers: Headers::new() },
        Frame::SynReply { stream_id: 3, fin: true, headers: headers.clone() },
        Frame::RstStream { stream_id: 5, status: RstStatus::Cancel },
        Frame::RstStream { stream_id: 5, status: RstStatus::Other(99) },
        Frame::Settings {
            clear: true,
            settings: vec![
                Setting { flags: 0, id: Setting::INITIAL_WINDOW_SIZE, value: 1 << 20 },
                Setting { flags: 1, id: Setting::MAX_CONCURRENT_STREAMS, value: 100 },
            ],
        },
        Frame::Settings { clear: false, settings: vec![] },
        Frame::Ping { id: 7 },
        Frame::GoAway { last_good_stream_id: 9, status: GoAwayStatus::Ok },
        Frame::GoAway { last_good_stream_id: 0, status: GoAwayStatus::InternalError },
        Frame::Headers { stream_id: 1, fin: true, headers },
        Frame::WindowUpdate { stream_id: 0, delta: 0x7fff_0000 },
        Frame::WindowUpdate { stream_id: 1, delta: 32_768 },
        Frame::Data { stream_id: 1, fin: false, data: Bytes::from_static(b"hello") },
        Frame::Data { stream_id: 2, fin: true, data: Bytes::new() },
        Frame::Data { stream_id: 0x7fff_ffff, fin: false, data: Bytes::from(vec![0xab; 100_000]) },
    ]);
}

#[test]
fn fixed_layouts_match_the_spec() {
    assert_eq!(
        encode(&Frame::RstStream { stream_id: 3, status: RstStatus::Cancel }),
        [0x80, 3, 0, 3, 0, 0, 0, 8, 0, 0, 0, 3, 0, 0, 0, 5]
    );
    assert_eq!(encode(&Frame::Ping { id: 0x0102_0304 }), [0x80, 3, 0, 6, 0, 0, 0, 4, 1, 2, 3, 4]);
    assert_eq!(
        encode(&Frame::GoAway { last_good_stream_id: 5, status: GoAwayStatus::ProtocolError }),
        [0x80, 3, 0, 7, 0, 0, 0, 8, 0, 0, 0, 5, 0, 0, 0, 1]
    );
    assert_eq!(
        encode(&Frame::WindowUpdate { stream_id: 1, delta: 0x1_0000 }),
        [0x80, 3, 0, 9, 0, 0, 0, 8, 0, 0, 0, 1, 0, 1, 0, 0]
    );
    assert_eq!(
        encode(&Frame::Settings {
            clear: false,
            settings: vec![Setting { flags: 1, id: Setting::INITIAL_WINDOW_SIZE, value: 0x10_0000 }]
        }),
        [0x80, 3, 0, 4, 0, 0, 0, 12, 0, 0, 0, 1, 1, 0, 0, 7, 0, 0x10, 0, 0]
    );
    assert_eq!(
        encode(&Frame::Data { stream_id: 2, fin: true, data: Bytes::from_static(b"ok") }),
        [0, 0, 0, 2, 1, 0, 0, 2, b'o', b'k']
    );
    let syn = encode(&Frame::SynStream {
        stream_id: 1,
        associated_stream_id: 0,
        priority: 4,
        slot: 0,
        fin: true,
        unidirectional: true,
        headers: Headers::new(),
    });
    assert_eq!(&syn[..4], [0x80, 3, 0, 1]);
    assert_eq!(syn[4], 0x03, "FIN | UNIDIRECTIONAL");
    assert_eq!(u32::from_be_bytes([0, syn[5], syn[6], syn[7]]) as usize, syn.len() - 8);
    assert_eq!(&syn[8..18], [0, 0, 0, 1, 0, 0, 0, 0, 0x80, 0]);
}

/// A complete SYN_STREAM from Chromium's SPDY/3 framer tests: stream 1, priority 4,
/// headers `bar: foo` and `foo: bar`.
#[test]
fn decodes_a_chromium_syn_stream() {
    let mut wire = BytesMut::from(
        &[
            0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x27, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00,
            0x38, 0xea, 0xe3, 0xc6, 0xa7, 0xc2, 0x02, 0xe5, 0x0e, 0x50, 0xc2, 0x4b, 0x4a, 0x04, 0xe5, 0x0b, 0xe6, 0xb4,
            0xfc, 0x7c, 0x24, 0x0a, 0x28, 0x08, 0x00, 0x00, 0x00, 0xff, 0xff,
        ][..],
    );
    let frame = FrameDecoder::new().decode(&mut wire).unwrap().unwrap();
    assert_eq!(
        frame,
        Frame::SynStream {
            stream_id: 1,
            associated_stream_id: 0,
            priority: 4,
            slot: 0,
            fin: false,
            unidirectional: false,
            headers: Headers::new().with("bar", "foo").with("foo", "bar"),
        }
    );
}

#[test]
fn partial_input_waits_for_the_rest() {
    let full = encode(&Frame::Data { stream_id: 1, fin: false, data: Bytes::from_static(b"0123456789") });
    let mut decoder = FrameDecoder::new();
    let mut wire = BytesMut::new();
    for (i, byte) in full.iter().enumerate() {
        assert_eq!(decoder.decode(&mut wire).unwrap(), None, "after {i} bytes");
        wire.put_u8(*byte);
    }
    assert!(matches!(decoder.decode(&mut wire).unwrap(), Some(Frame::Data { stream_id: 1, .. })));
}

#[test]
fn unknown_control_frames_are_skipped() {
    let mut wire = BytesMut::new();
    // Type 5 (NOOP in SPDY/2) and 10 (CREDENTIAL) are not understood here.
    wire.put_slice(&[0x80, 3, 0, 5, 0, 0, 0, 0]);
    wire.put_slice(&[0x80, 3, 0, 10, 0, 0, 0, 3, 1, 2, 3]);
    FrameEncoder::new().encode(&Frame::Ping { id: 1 }, &mut wire).unwrap();
    assert_eq!(FrameDecoder::new().decode(&mut wire).unwrap(), Some(Frame::Ping { id: 1 }));
    assert!(wire.is_empty());
}

#[test]
fn malformed_frames_are_errors() {
    let cases: [&[u8]; 5] = [
        &[0x80, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1],                          // SPDY/2
        &[0x80, 3, 0, 6, 0, 0, 0, 3, 0, 0, 1],                             // short PING
        &[0x80, 3, 0, 3, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0],              // RST status 0
        &[0x80, 3, 0, 3, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 5],              // RST on stream 0
        &[0x80, 3, 0, 4, 0, 0, 0, 12, 0, 0, 0, 2, 0, 0, 0, 7, 0, 0, 0, 1], // SETTINGS count
    ];
    for case in cases {
        assert!(FrameDecoder::new().decode(&mut BytesMut::from(case)).is_err(), "{case:?}");
    }
    let data0 = [0u8, 0, 0, 0, 0, 0, 0, 1, 9];
    assert!(FrameDecoder::new().decode(&mut BytesMut::from(&data0[..])).is_err());
}

#[test]
fn rst_codes_map_both_ways() {
    for code in 1..=11 {
        let status = RstStatus::from_code(code);
        assert!(!matches!(status, RstStatus::Other(_)));
        assert_eq!(status.code(), code);
    }
    assert_eq!(RstStatus::Cancel.code(), 5);
    assert_eq!(RstStatus::RefusedStream.code(), 3);
    assert_eq!(RstStatus::from_code(12), RstStatus::Other(12));
}

#[test]
fn oversized_data_is_refused() {
    let frame = Frame::Data { stream_id: 1, fin: false, data: Bytes::from(vec![0; MAX_PAYLOAD + 1]) };
    assert!(matches!(FrameEncoder::new().encode(&frame, &mut BytesMut::new()), Err(Error::FrameTooLarge(_))));
}
