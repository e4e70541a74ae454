//! SPDY/3 header blocks: the `Headers` a SYN_STREAM, SYN_REPLY or HEADERS frame carries, the
//! name/value block they are written as (32-bit counts and lengths, lower-case names, several
//! values of one name joined by NUL), and the zlib compression of that block. Compression is
//! stateful across a whole connection: one compressor for everything a side sends and one
//! decompressor for everything it receives, both primed with SPDY/3's dictionary, each block
//! ending on a sync flush so the peer can inflate it on its own.

use crate::Error;
use crate::dictionary::{DICTIONARY, DICTIONARY_ID};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The largest inflated header block accepted (a guard against zlib bombs).
pub const MAX_HEADER_BLOCK: usize = 1 << 20;

/// Header names SPDY forbids because they describe the HTTP/1 connection, not the stream.
/// Go's framer rejects a SYN_STREAM carrying any of them (and kills the connection).
pub const FORBIDDEN: &[&str] = &["connection", "host", "keep-alive", "proxy-connection", "transfer-encoding"];

/// An ordered list of header fields with lower-case names; a name may repeat.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, String)>,
}

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a value for `name` (lower-cased), keeping any earlier values.
    pub fn append(&mut self, name: impl AsRef<str>, value: impl Into<String>) {
        self.entries.push((name.as_ref().to_ascii_lowercase(), value.into()));
    }

    /// Sets `name` (lower-cased) to exactly `value`, dropping earlier values.
    pub fn insert(&mut self, name: impl AsRef<str>, value: impl Into<String>) {
        let name = name.as_ref().to_ascii_lowercase();
        self.entries.retain(|(n, _)| *n != name);
        self.entries.push((name, value.into()));
    }

    /// `self` with `name: value` appended (builder form of [`Headers::append`]).
    pub fn with(mut self, name: impl AsRef<str>, value: impl Into<String>) -> Self {
        self.append(name, value);
        self
    }

    /// The first value of `name`, compared case-insensitively.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_all(name).next()
    }

    /// Every value of `name`, compared case-insensitively, in order.
    pub fn get_all<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.entries.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// All fields as `(name, value)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// How many fields (counting each value of a repeated name).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first field whose name SPDY forbids, if any.
    pub fn forbidden(&self) -> Option<&str> {
        self.entries.iter().map(|(n, _)| n.as_str()).find(|n| FORBIDDEN.contains(n))
    }

    /// The uncompressed name/value block: distinct names in first-seen order, each name's
    /// values joined by NUL (a block must not name a header twice).
    pub fn to_block(&self) -> Vec<u8> {
        let mut names: Vec<&str> = Vec::new();
        for (name, _) in &self.entries {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        let mut out = Vec::new();
        put_len(&mut out, names.len());
        for name in names {
            let value = self.get_all(name).collect::<Vec<_>>().join("\0");
            put_len(&mut out, name.len());
            out.extend_from_slice(name.as_bytes());
            put_len(&mut out, value.len());
            out.extend_from_slice(value.as_bytes());
        }
        out
    }

    /// Parses an uncompressed name/value block; values joined by NUL become separate fields.
    pub fn from_block(block: &[u8]) -> Result<Self, Error> {
        let mut rest = block;
        let count = take_u32(&mut rest)? as usize;
        // Each pair takes at least eight bytes; refuse counts the block cannot hold.
        if count > rest.len() / 8 {
            return Err(Error::MalformedHeaderBlock("more pairs announced than the block holds"));
        }
        let mut headers = Headers::new();
        for _ in 0..count {
            let name = take_string(&mut rest)?;
            if name.is_empty() {
                return Err(Error::MalformedHeaderBlock("empty header name"));
            }
            let value = take_string(&mut rest)?;
            for part in value.split('\0') {
                headers.append(&name, part);
            }
        }
        if !rest.is_empty() {
            return Err(Error::MalformedHeaderBlock("bytes left after the last pair"));
        }
        Ok(headers)
    }
}

impl<K: AsRef<str>, V: Into<String>> FromIterator<(K, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut headers = Headers::new();
        for (name, value) in iter {
            headers.append(name, value);
        }
        headers
    }
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    // Lengths come from in-memory strings; a u32 overflow would be a 4 GiB header.
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
}

fn take_u32(rest: &mut &[u8]) -> Result<u32, Error> {
    let (head, tail) = rest.split_first_chunk::<4>().ok_or(Error::MalformedHeaderBlock("truncated length"))?;
    *rest = tail;
    Ok(u32::from_be_bytes(*head))
}

fn take_string(rest: &mut &[u8]) -> Result<String, Error> {
    let len = take_u32(rest)? as usize;
    if len > rest.len() {
        return Err(Error::MalformedHeaderBlock("string runs past the block"));
    }
    let (bytes, tail) = rest.split_at(len);
    *rest = tail;
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

/// Compresses the header blocks one side sends, sharing one zlib stream across the connection.
pub struct HeaderCompressor {
    zlib: Compress,
    primed: bool,
}

impl Default for HeaderCompressor {
    fn default() -> Self {
        Self::new()
    }
}

impl HeaderCompressor {
    /// A compressor at the start of a connection.
    pub fn new() -> Self {
        Self { zlib: Compress::new(Compression::default(), true), primed: false }
    }

    /// Appends the compressed block for `headers` to `out`, ending in a sync flush.
    pub fn compress(&mut self, headers: &Headers, out: &mut Vec<u8>) -> Result<(), Error> {
        if !self.primed {
            self.zlib.set_dictionary(&DICTIONARY).map_err(|e| Error::Compress(e.to_string()))?;
            self.primed = true;
        }
        let block = headers.to_block();
        let mut input = block.as_slice();
        out.reserve(block.len() + 64);
        loop {
            let before = self.zlib.total_in();
            self.zlib.compress_vec(input, out, FlushCompress::Sync).map_err(|e| Error::Compress(e.to_string()))?;
            let used = usize::try_from(self.zlib.total_in() - before).unwrap_or(usize::MAX);
            input = &input[used.min(input.len())..];
            // The flush is complete once all input is taken and zlib stopped short of the end
            // of the buffer; a full buffer may hide more output.
            if input.is_empty() && out.len() < out.capacity() {
                return Ok(());
            }
            out.reserve(out.capacity().max(256));
        }
    }
}

/// Inflates the header blocks one side receives, sharing one zlib stream across the connection.
pub struct HeaderDecompressor {
    zlib: Decompress,
}

impl Default for HeaderDecompressor {
    fn default() -> Self {
        Self::new()
    }
}

impl HeaderDecompressor {
    /// A decompressor at the start of a connection.
    pub fn new() -> Self {
        Self { zlib: Decompress::new(true) }
    }

    /// Inflates one frame's compressed block and parses the headers in it.
    pub fn decompress(&mut self, compressed: &[u8]) -> Result<Headers, Error> {
        Headers::from_block(&self.inflate(compressed)?)
    }

    fn inflate(&mut self, compressed: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(compressed.len().saturating_mul(4).clamp(64, MAX_HEADER_BLOCK));
        let mut input = compressed;
        loop {
            let (in_before, out_before) = (self.zlib.total_in(), self.zlib.total_out());
            match self.zlib.decompress_vec(input, &mut out, FlushDecompress::Sync) {
                Ok(Status::StreamEnd) => {
                    return Err(Error::Decompress("the peer ended its header zlib stream".into()));
                }
                Ok(_) => {}
                Err(e) => match e.needs_dictionary() {
                    Some(DICTIONARY_ID) => {
                        self.zlib.set_dictionary(&DICTIONARY).map_err(|e| Error::Decompress(e.to_string()))?;
                    }
                    Some(other) => {
                        return Err(Error::Decompress(format!(
                            "stream wants dictionary {other:#010x}, not SPDY/3's {DICTIONARY_ID:#010x}"
                        )));
                    }
                    None => return Err(Error::Decompress(e.to_string())),
                },
            }
            let used = usize::try_from(self.zlib.total_in() - in_before).unwrap_or(usize::MAX);
            let produced = self.zlib.total_out() - out_before;
            input = &input[used.min(input.len())..];
            if input.is_empty() && out.len() < out.capacity() {
                return Ok(out);
            }
            if out.len() >= MAX_HEADER_BLOCK {
                return Err(Error::HeaderBlockTooLarge(MAX_HEADER_BLOCK));
            }
            if out.len() == out.capacity() {
                out.reserve(out.capacity());
            } else if used == 0 && produced == 0 {
                return Err(Error::Decompress("zlib made no progress on the header block".into()));
            }
        }
    }
}

#[cfg(test)]
mod tests;
