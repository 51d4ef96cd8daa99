//! Decoding: blocks of frames (nanomp3 for MP3, symphonia for the rest) mixed down to mono
//! and resampled (rubato) as they stream, read whole or in windows; and whole-file planar
//! decoding for code that keeps every channel.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler};
use symphonia::core::io::MediaSource;

use crate::source::{Block, Source};
use crate::{Error, Result};

/// Mono audio at a known sample rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// Samples in `[-1, 1]`.
    pub samples: Vec<f32>,
    /// Sample rate in Hz.
    pub sample_rate_hz: u32,
}

impl Audio {
    /// Duration in seconds.
    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate_hz)
    }
}

/// The duration of an audio file from its container header, decoding it only when the header
/// does not say.
pub fn duration_s(path: &Path) -> Result<f64> {
    AudioReader::open(path, None)?.duration_s()
}

/// Decodes `path` (WAV, FLAC, MP3, Ogg Vorbis, AAC/M4A, Sun AU), mixes it down to mono and resamples it
/// to `sample_rate_hz` (`None` keeps the file's rate). For long files, [`AudioReader`] reads
/// the same samples block by block.
///
/// A missing, corrupt, truncated or unsupported file is an [`Error::Decode`] naming the path:
/// callers may record it and skip the track.
pub fn load(path: &Path, sample_rate_hz: Option<u32>) -> Result<Audio> {
    AudioReader::open(path, sample_rate_hz)?.read_to_end()
}

/// Streaming decoder: decoded blocks (see `source`), mixed to mono, resampled chunk by chunk with rubato's
/// FFT resampler. Memory is a few packets and one resampler chunk, whatever the file's length;
/// the samples are the same as [`load`]'s.
pub struct AudioReader {
    path: PathBuf,
    source: Source,
    source_rate: u32,
    target_rate: u32,
    header_frames: Option<u64>,
    resampler: Option<Fft<f32>>,
    /// Mono source samples not yet resampled.
    pending: Vec<f32>,
    /// Output samples not yet read.
    ready: VecDeque<f32>,
    /// The resampler's output of one chunk.
    resampled: Vec<f32>,
    source_frames: u64,
    /// Output samples produced so far (read or ready).
    produced: u64,
    delay_left: usize,
    finished: bool,
}

/// A seekable reader of known length as symphonia's source.
struct Seekable<R> {
    reader: R,
    len: Option<u64>,
}

impl<R: std::io::Read> std::io::Read for Seekable<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reader.read(buf)
    }
}

impl<R: std::io::Seek> std::io::Seek for Seekable<R> {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        self.reader.seek(to)
    }
}

impl<R: std::io::Read + std::io::Seek + Send + Sync> MediaSource for Seekable<R> {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        self.len
    }
}

/// Input chunk of the streaming resampler, in source frames.
const CHUNK: usize = 1024;

impl AudioReader {
    /// Opens `path` for reading at `sample_rate_hz` (`None`: the file's rate).
    pub fn open(path: &Path, sample_rate_hz: Option<u32>) -> Result<Self> {
        if crate::au::is_au(path) {
            let bytes = std::fs::read(path).map_err(|e| Error::decode(path, e))?;
            let wav = crate::au::to_wav(&bytes, path)?;
            return Self::from_source(Box::new(std::io::Cursor::new(wav)), path, sample_rate_hz);
        }
        let file = std::fs::File::open(path).map_err(|e| Error::decode(path, e))?;
        Self::from_source(Box::new(file), path, sample_rate_hz)
    }

    /// Reads the file `reader` gives (an object on a bucket, read by ranged requests), of
    /// `len` bytes; `label` names it in errors and its extension hints the format.
    pub fn from_reader<R>(
        reader: R,
        len: Option<u64>,
        label: &Path,
        sample_rate_hz: Option<u32>,
    ) -> Result<Self>
    where
        R: std::io::Read + std::io::Seek + Send + Sync + 'static,
    {
        Self::from_source(Box::new(Seekable { reader, len }), label, sample_rate_hz)
    }

    fn from_source(
        source: Box<dyn MediaSource>,
        path: &Path,
        sample_rate_hz: Option<u32>,
    ) -> Result<Self> {
        Self::with_decoder(source, path, sample_rate_hz, false)
    }

    /// [`AudioReader::open`], with symphonia decoding even MP3: the tests hold both decoders
    /// to the same frames.
    #[doc(hidden)]
    pub fn open_with_symphonia(path: &Path, sample_rate_hz: Option<u32>) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| Error::decode(path, e))?;
        Self::with_decoder(Box::new(file), path, sample_rate_hz, true)
    }

    fn with_decoder(
        source: Box<dyn MediaSource>,
        path: &Path,
        sample_rate_hz: Option<u32>,
        prefer_symphonia: bool,
    ) -> Result<Self> {
        let (source, params) = Source::open(source, path, prefer_symphonia)?;
        let (source_rate, header_frames) = (params.rate, params.frames);
        let target_rate = sample_rate_hz.unwrap_or(source_rate);
        let resampler = if target_rate == source_rate {
            None
        } else {
            Some(
                Fft::<f32>::new(
                    source_rate as usize,
                    target_rate as usize,
                    CHUNK,
                    1,
                    FixedSync::Input,
                )
                .map_err(|e| Error::Resample {
                    from_hz: f64::from(source_rate),
                    to_hz: f64::from(target_rate),
                    reason: format!("{}: {e}", path.display()),
                })?,
            )
        };
        let delay_left = resampler.as_ref().map_or(0, |r| r.output_delay());
        Ok(Self {
            path: path.to_path_buf(),
            source,
            source_rate,
            target_rate,
            header_frames,
            resampler,
            pending: Vec::new(),
            ready: VecDeque::new(),
            resampled: Vec::new(),
            source_frames: 0,
            produced: 0,
            delay_left,
            finished: false,
        })
    }

    /// Every sample not read yet, as one [`Audio`]: decoded straight into one buffer sized
    /// from the header's length (no block copies, no regrowth).
    pub fn read_to_end(mut self) -> Result<Audio> {
        if let Some(frames) = self.header_frames {
            let ratio = f64::from(self.target_rate) / f64::from(self.source_rate);
            let expected = (frames as f64 * ratio).ceil() as usize + 2 * CHUNK;
            self.ready
                .reserve(expected.saturating_sub(self.ready.len()));
        }
        while !self.finished {
            self.decode_more()?;
        }
        Ok(Audio {
            sample_rate_hz: self.sample_rate_hz(),
            samples: Vec::from(std::mem::take(&mut self.ready)),
        })
    }

    /// The stream's duration: from the container header, else by decoding to the end.
    pub fn duration_s(mut self) -> Result<f64> {
        if let Some(d) = self.header_duration_s() {
            return Ok(d);
        }
        let rate = f64::from(self.sample_rate_hz());
        let mut frames = 0usize;
        loop {
            let n = self.read(1 << 16)?.len();
            if n == 0 {
                return Ok(frames as f64 / rate);
            }
            frames += n;
        }
    }

    /// The rate of the samples [`AudioReader::read`] returns.
    pub fn sample_rate_hz(&self) -> u32 {
        self.target_rate
    }

    /// The file's own sample rate.
    pub fn source_sample_rate_hz(&self) -> u32 {
        self.source_rate
    }

    /// Samples decoded but not yet returned: what the reader holds in memory besides the
    /// decoder's own packet buffer.
    pub fn buffered_samples(&self) -> usize {
        self.pending.len() + self.ready.len()
    }

    /// The duration the container declares, if it does.
    pub fn header_duration_s(&self) -> Option<f64> {
        self.header_frames
            .map(|n| n as f64 / f64::from(self.source_rate))
    }

    /// Up to `max` mono samples at [`AudioReader::sample_rate_hz`]; empty at the end.
    pub fn read(&mut self, max: usize) -> Result<Vec<f32>> {
        while self.ready.len() < max && !self.finished {
            self.decode_more()?;
        }
        let n = max.min(self.ready.len());
        Ok(self.ready.drain(..n).collect())
    }

    /// Overlapping windows of `window` samples every `hop` samples (the last one zero-padded),
    /// read as they are needed.
    pub fn windows(self, window: usize, hop: usize) -> Windows {
        Windows {
            reader: self,
            window: window.max(1),
            hop: hop.max(1),
            buf: VecDeque::new(),
            start: 0,
            done: false,
        }
    }

    /// Decodes one block (or, at the end of the stream, flushes the resampler).
    fn decode_more(&mut self) -> Result<()> {
        let Some(Block {
            interleaved,
            channels,
        }) = self.source.next_block(&self.path)?
        else {
            return self.finish();
        };
        self.source_frames += (interleaved.len() / channels) as u64;
        mix_down_into(interleaved, channels, &mut self.pending);
        self.resample_pending(false)
    }

    /// Moves pending source samples through the resampler, in whole chunks (or all of them at
    /// the end).
    fn resample_pending(&mut self, end: bool) -> Result<()> {
        let Some(resampler) = self.resampler.as_mut() else {
            self.produced += self.pending.len() as u64;
            self.ready.extend(self.pending.drain(..));
            return Ok(());
        };
        let (from_hz, to_hz) = (f64::from(self.source_rate), f64::from(self.target_rate));
        let err = |path: &Path, e: &dyn std::fmt::Display| Error::Resample {
            from_hz,
            to_hz,
            reason: format!("{}: {e}", path.display()),
        };
        let mut offset = 0;
        loop {
            let need = resampler.input_frames_next();
            let available = self.pending.len() - offset;
            if available < need && !(end && available > 0) {
                break;
            }
            let take = available.min(need);
            let input = InterleavedSlice::new(&self.pending[offset..offset + take], 1, take)
                .map_err(|e| err(&self.path, &e))?;
            let indexing = Indexing {
                input_offset: 0,
                output_offset: 0,
                partial_len: (take < need).then_some(take),
                active_channels_mask: None,
            };
            // Into one reused buffer (`process` allocates one per chunk), zeroed as it does.
            let frames = resampler.output_frames_next();
            let out = &mut self.resampled;
            out.clear();
            out.resize(frames, 0.0);
            let mut output = InterleavedSlice::new_mut(&mut out[..], 1, frames)
                .map_err(|e| err(&self.path, &e))?;
            resampler
                .process_into_buffer(&input, &mut output, Some(&indexing))
                .map_err(|e| err(&self.path, &e))?;
            offset += take;
            let skip = self.delay_left.min(out.len());
            self.delay_left -= skip;
            self.produced += (out.len() - skip) as u64;
            self.ready.extend(&out[skip..]);
        }
        self.pending.drain(..offset);
        Ok(())
    }

    /// End of stream: checks the length against the header, flushes the resampler and trims
    /// the output to `ceil(frames * ratio)`.
    fn finish(&mut self) -> Result<()> {
        self.finished = true;
        if let Some(expected) = self.header_frames {
            // Headers of some encoders round to the block; a file missing more than a block
            // and 1% of its frames is truncated.
            let missing = expected.saturating_sub(self.source_frames);
            if missing > 4096 && missing * 100 > expected {
                return Err(Error::decode(
                    &self.path,
                    format!(
                        "truncated: the header declares {expected} frames, the file holds {}",
                        self.source_frames
                    ),
                ));
            }
        }
        if self.source_frames == 0 {
            return Err(Error::decode(&self.path, "no audio frames"));
        }
        if self.resampler.is_none() {
            return self.resample_pending(true);
        }
        self.resample_pending(true)?;
        let ratio = f64::from(self.target_rate) / f64::from(self.source_rate);
        let wanted = (self.source_frames as f64 * ratio).ceil() as u64;
        // Push silence through until the delayed tail is out, then drop what is past the end
        // (all of it still in `ready`: the reader never hands out more than it has produced).
        let mut guard = 0;
        while self.produced < wanted && guard < 64 {
            self.pending.extend(std::iter::repeat_n(0.0, CHUNK));
            self.resample_pending(false)?;
            guard += 1;
        }
        let excess = self.produced.saturating_sub(wanted) as usize;
        self.ready.truncate(self.ready.len().saturating_sub(excess));
        self.produced -= excess as u64;
        Ok(())
    }
}

/// Iterator of overlapping windows: see [`AudioReader::windows`].
pub struct Windows {
    reader: AudioReader,
    window: usize,
    hop: usize,
    buf: VecDeque<f32>,
    start: usize,
    done: bool,
}

/// One window of a [`Windows`] iterator.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// First sample of the window.
    pub start: usize,
    /// `window` samples (zero-padded at the end of the file).
    pub samples: Vec<f32>,
}

impl Iterator for Windows {
    type Item = Result<Window>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        while self.buf.len() < self.window {
            match self.reader.read(self.window - self.buf.len()) {
                Ok(block) if block.is_empty() => break,
                Ok(block) => self.buf.extend(block),
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        // The last window is the first that reaches the end of the file.
        if self.buf.len() < self.window {
            self.done = true;
            if self.buf.is_empty() && self.start > 0 {
                return None;
            }
        }
        let mut samples: Vec<f32> = self.buf.iter().copied().collect();
        samples.resize(self.window, 0.0);
        let window = Window {
            start: self.start,
            samples,
        };
        let drop = self.hop.min(self.buf.len());
        self.buf.drain(..drop);
        if self.hop > drop {
            // Hop longer than the window: skip the gap.
            let mut gap = self.hop - drop;
            while gap > 0 {
                match self.reader.read(gap) {
                    Ok(b) if b.is_empty() => {
                        self.done = true;
                        break;
                    }
                    Ok(b) => gap -= b.len(),
                    Err(e) => return Some(Err(e)),
                }
            }
        }
        self.start += self.hop;
        Some(Ok(window))
    }
}

/// Averages interleaved frames of `channels` samples to mono.
pub fn mix_down(interleaved: &[f32], channels: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(interleaved.len() / channels.max(1));
    mix_down_into(interleaved, channels, &mut out);
    out
}

/// [`mix_down`], appended to `out`.
fn mix_down_into(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    if channels <= 1 {
        out.extend_from_slice(interleaved);
        return;
    }
    let scale = 1.0 / channels as f32;
    if channels == 2 {
        // The common case, in a loop the compiler vectorises; the same sums as below.
        out.extend(interleaved.chunks_exact(2).map(|f| (f[0] + f[1]) * scale));
        return;
    }
    out.extend((interleaved.chunks_exact(channels)).map(|frame| frame.iter().sum::<f32>() * scale));
}

/// Decodes a whole stream with every channel at its own rate; returns the channels (planar)
/// and the sample rate. `label` names the stream in errors (and its extension hints the
/// format). For the samples of one file mixed to mono, use [`load`].
pub fn decode_planar(source: Box<dyn MediaSource>, label: &Path) -> Result<(Vec<Vec<f32>>, u32)> {
    let (mut source, params) = Source::open(source, label, false)?;
    let mut channels = Vec::<Vec<f32>>::new();
    while let Some(block) = source.next_block(label)? {
        if channels.is_empty() {
            channels = vec![Vec::new(); block.channels];
        }
        for (c, channel) in channels.iter_mut().enumerate() {
            channel.extend(block.interleaved.iter().skip(c).step_by(block.channels));
        }
    }
    if channels.is_empty() {
        return Err(Error::decode(label, "no audio frames"));
    }
    Ok((channels, params.rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_down_averages_frames() {
        assert_eq!(mix_down(&[1.0, 0.0, 0.5, 0.5], 2), vec![0.5, 0.5]);
    }

    #[test]
    fn corrupt_file_is_a_decode_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.wav");
        std::fs::write(&path, b"RIFF\0\0\0\0WAVEjunk").unwrap();
        let err = load(&path, None).unwrap_err();
        assert!(matches!(err, Error::Decode { .. }));
        assert!(err.to_string().contains("broken.wav"), "{err}");
    }
}
