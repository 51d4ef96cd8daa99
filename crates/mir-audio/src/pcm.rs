//! Plain PCM WAV read straight from its bytes: 8-, 16-, 24- and 32-bit integer and 32-bit
//! float samples, converted to `f32` with symphonia's formulas (so the samples are bit for
//! bit those symphonia gives), at about four times symphonia's speed. Any other WAV
//! (compressed, RF64, a streamed length, an unusual layout) is left to symphonia.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use symphonia::core::io::MediaSource;

use crate::{Error, Result};

/// Bytes read per block (rounded down to whole frames).
const BLOCK_BYTES: usize = 1 << 16;

/// The sample encodings read here.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Encoding {
    U8,
    I16,
    I24,
    I32,
    F32,
}

impl Encoding {
    /// From the `fmt ` chunk's format code and bits per sample.
    fn of(format: u16, bits: u16) -> Option<Self> {
        match (format, bits) {
            (1, 8) => Some(Self::U8),
            (1, 16) => Some(Self::I16),
            (1, 24) => Some(Self::I24),
            (1, 32) => Some(Self::I32),
            (3, 32) => Some(Self::F32),
            _ => None,
        }
    }

    fn width(self) -> usize {
        match self {
            Self::U8 => 1,
            Self::I16 => 2,
            Self::I24 => 3,
            Self::I32 | Self::F32 => 4,
        }
    }

    /// Appends the samples of `bytes` (whole samples) to `out`, scaled as symphonia does.
    fn decode(self, bytes: &[u8], out: &mut Vec<f32>) {
        let n = bytes.len() / self.width();
        out.reserve(n);
        match self {
            Self::U8 => out.extend(bytes.iter().map(|&b| f32::from(b) / 128.0 - 1.0)),
            Self::I16 => out.extend(
                bytes
                    .chunks_exact(2)
                    .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32_768.0),
            ),
            Self::I24 => out.extend(bytes.chunks_exact(3).map(|b| {
                let s = i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8;
                s as f32 / 8_388_608.0
            })),
            Self::I32 => out.extend(bytes.chunks_exact(4).map(|b| {
                let s = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                (f64::from(s) / 2_147_483_648.0) as f32
            })),
            Self::F32 => out.extend(
                bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            ),
        }
    }
}

/// An open PCM WAV stream.
pub(crate) struct Pcm {
    source: Box<dyn MediaSource>,
    encoding: Encoding,
    channels: usize,
    /// Bytes of the data chunk not read yet.
    remaining: u64,
    bytes: Vec<u8>,
    /// Bytes of a partial frame kept at the start of `bytes`.
    carry: usize,
    samples: Vec<f32>,
}

/// The layout of a WAV file's samples, from its header.
pub(crate) struct Layout {
    pub rate: u32,
    channels: usize,
    pub frames: u64,
}

impl Pcm {
    /// Reads the header of `source`; `Ok(None)` (and the stream back at its start) when the
    /// file is not a WAV read here.
    pub(crate) fn open(
        mut source: Box<dyn MediaSource>,
        path: &Path,
    ) -> Result<std::result::Result<(Self, Layout), Box<dyn MediaSource>>> {
        let header = header(&mut *source).map_err(|e| Error::decode(path, e))?;
        let Some((encoding, layout, data_bytes)) = header else {
            source
                .seek(SeekFrom::Start(0))
                .map_err(|e| Error::decode(path, e))?;
            return Ok(Err(source));
        };
        let frame = encoding.width() * layout.channels;
        let pcm = Self {
            source,
            encoding,
            channels: layout.channels,
            remaining: data_bytes,
            bytes: vec![0; BLOCK_BYTES / frame * frame + frame],
            carry: 0,
            samples: Vec::new(),
        };
        Ok(Ok((pcm, layout)))
    }

    /// The next block of interleaved samples, `None` at the end of the data chunk or of the
    /// file (a truncated file ends early; the caller's length check decides).
    pub(crate) fn next_block(&mut self, path: &Path) -> Result<Option<(&[f32], usize)>> {
        let frame = self.encoding.width() * self.channels;
        let room = self.bytes.len() - frame - self.carry;
        let target = self.carry + self.remaining.min(room as u64) as usize;
        let mut filled = self.carry;
        while filled < target {
            let n = self
                .source
                .read(&mut self.bytes[filled..target])
                .map_err(|e| Error::decode(path, e))?;
            if n == 0 {
                self.remaining = 0;
                break;
            }
            filled += n;
            self.remaining -= n as u64;
        }
        let whole = filled / frame * frame;
        if whole == 0 {
            return Ok(None);
        }
        self.samples.clear();
        self.encoding
            .decode(&self.bytes[..whole], &mut self.samples);
        self.bytes.copy_within(whole..filled, 0);
        self.carry = filled - whole;
        Ok(Some((&self.samples, self.channels)))
    }
}

/// The encoding, layout and data length of a plain PCM WAV, with the stream left at the
/// first sample; `None` for anything else.
fn header(source: &mut dyn MediaSource) -> std::io::Result<Option<(Encoding, Layout, u64)>> {
    let mut riff = [0u8; 12];
    if read_full(source, &mut riff)? < 12 || &riff[..4] != b"RIFF" || &riff[8..] != b"WAVE" {
        return Ok(None);
    }
    let mut format = None;
    loop {
        let mut chunk = [0u8; 8];
        if read_full(source, &mut chunk)? < 8 {
            return Ok(None);
        }
        let size = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        match &chunk[..4] {
            b"fmt " if (16..=64).contains(&size) => {
                let mut body = vec![0u8; size as usize + (size as usize & 1)];
                if read_full(source, &mut body)? < body.len() {
                    return Ok(None);
                }
                format = fmt(&body);
                if format.is_none() {
                    return Ok(None);
                }
            }
            b"data" => {
                let Some((encoding, rate, channels)) = format else {
                    return Ok(None);
                };
                if size == 0 || size == u32::MAX {
                    return Ok(None);
                }
                let frame = (encoding.width() * channels) as u64;
                let frames = u64::from(size) / frame;
                let layout = Layout {
                    rate,
                    channels,
                    frames,
                };
                return Ok(Some((encoding, layout, frames * frame)));
            }
            b"fmt " => return Ok(None),
            _ => {
                let skip = i64::from(size) + i64::from(size & 1);
                source.seek(SeekFrom::Current(skip))?;
            }
        }
    }
}

/// The encoding, rate and channels of a `fmt ` chunk this reader decodes.
fn fmt(body: &[u8]) -> Option<(Encoding, u32, usize)> {
    let u16_at = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]);
    let (mut code, channels, bits) = (u16_at(0), u16_at(2), u16_at(14));
    let rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
    let block_align = u16_at(12);
    if code == 0xFFFE {
        // WAVE_FORMAT_EXTENSIBLE: the sub-format GUID starts with the format code, and only
        // fully used containers are read here.
        if body.len() < 40 || u16_at(18) != bits {
            return None;
        }
        code = u16_at(24);
    }
    let encoding = Encoding::of(code, bits)?;
    let ok = channels > 0
        && rate > 0
        && usize::from(block_align) == encoding.width() * usize::from(channels);
    ok.then_some((encoding, rate, usize::from(channels)))
}

/// Reads until `buf` is full or the stream ends; the bytes read.
fn read_full(source: &mut dyn MediaSource, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match source.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}
