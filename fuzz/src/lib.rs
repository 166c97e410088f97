//! How the framing targets read a fuzzer input: a size limit, chunk
//! lengths, then the bytes to decode.
//!
//! Layout: bytes 0-1 are the limit (`u16`, little-endian, taken modulo
//! 1024, in bytes); byte 2 is the number `n` of chunk lengths that follow
//! (one byte each); the rest is the body. The body is cut into chunks of
//! those lengths (clamped to what is left), and whatever remains is the
//! last chunk, so the fuzzer chooses where every cut falls.

/// A decoded fuzzer input.
#[derive(Debug)]
pub struct Input<'a> {
    /// The size limit, in bytes (0..1024).
    pub max: usize,
    /// The body.
    pub body: &'a [u8],
    /// The body cut into chunks, in order; their concatenation is `body`.
    pub chunks: Vec<&'a [u8]>,
}

impl<'a> Input<'a> {
    /// Reads `data` as described in the module docs; `None` when it is
    /// shorter than its header.
    pub fn parse(data: &'a [u8]) -> Option<Input<'a>> {
        let (&[lo, hi, n], rest) = data.split_first_chunk::<3>()?;
        let n = usize::from(n);
        if rest.len() < n {
            return None;
        }
        let (lengths, body) = rest.split_at(n);
        let mut chunks = Vec::with_capacity(n + 1);
        let mut left = body;
        for &len in lengths {
            let (chunk, after) = left.split_at(usize::from(len).min(left.len()));
            chunks.push(chunk);
            left = after;
        }
        chunks.push(left);
        Some(Input {
            max: usize::from(u16::from_le_bytes([lo, hi]) % 1024),
            body,
            chunks,
        })
    }
}

/// Writes an input in the layout [`Input::parse`] reads (for seed corpora).
pub fn encode(max: u16, chunk_lengths: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = max.to_le_bytes().to_vec();
    out.push(u8::try_from(chunk_lengths.len()).expect("at most 255 cuts"));
    out.extend_from_slice(chunk_lengths);
    out.extend_from_slice(body);
    out
}
