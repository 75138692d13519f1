//! `--gzip`: each request body compressed as one gzip member, as a browser's
//! `CompressionStream("gzip")` sends it. The deflate state (some 300 kB) is made once per
//! worker and reset for every body, so a request costs the compression alone.

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// The gzip header: magic, deflate, no flags, no time, no extra flags, unknown OS.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

pub struct Gzip {
    deflate: Compress,
}

impl Gzip {
    pub fn new() -> Self {
        Self {
            // The fastest level: the point is the collector's decompression, and the
            // generator's CPU is the rate (bench/RESULTS.md has what it costs).
            deflate: Compress::new(Compression::fast(), false),
        }
    }

    /// Writes `input` gzipped into `out` (emptied first).
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&HEADER);
        self.deflate.reset();
        out.reserve(input.len() / 2 + 64);
        loop {
            let consumed = self.deflate.total_in() as usize;
            match self
                .deflate
                .compress_vec(&input[consumed..], out, FlushCompress::Finish)
            {
                Ok(Status::StreamEnd) => break,
                // Out of room: more, and go on.
                Ok(Status::Ok | Status::BufError) => out.reserve(out.capacity().max(256)),
                // Deflate fails only on a misuse of the stream (it is reset above), and
                // a half-written body would be refused by the collector and counted.
                Err(_) => break,
            }
        }
        let mut crc = Crc::new();
        crc.update(input);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        // ISIZE: the length modulo 2^32, by the format.
        out.extend_from_slice(&(input.len() as u32).to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn bodies_gunzip_to_what_went_in_with_state_reused() {
        let mut gzip = Gzip::new();
        let mut out = Vec::new();
        for body in [
            b"{\"events\":[]}".to_vec(),
            Vec::new(),
            (0..200_000u32)
                .flat_map(|i| (i % 251).to_le_bytes())
                .collect(),
        ] {
            gzip.compress(&body, &mut out);
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&out[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, body);
        }
    }
}
