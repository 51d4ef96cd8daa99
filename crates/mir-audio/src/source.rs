//! Where decoded frames come from: nanomp3 (a safe Rust port of minimp3) for MP3, our own
//! reader for plain PCM WAV (`pcm`), symphonia's demuxers and decoders for every other format. Both trim the encoder delay and padding a
//! LAME/Xing tag declares, so a file gives the same frames whichever decodes it; nanomp3 is
//! the one for MP3 because it decodes about 2.5 times as fast here (`cargo xtask bench
//! decode_resample`), and every standard tagging dataset is MP3.

use std::io::{Seek, SeekFrom};
use std::path::Path;

use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

use crate::pcm::Pcm;
use crate::{Error, Result};

/// An open stream of decoded blocks.
pub(crate) enum Source {
    Symphonia(Box<Packets>),
    Mp3(Box<nanomp3::Reader<Box<dyn MediaSource>>>),
    Pcm(Box<Pcm>),
}

/// What the stream declares before any decoding.
pub(crate) struct Params {
    pub rate: u32,
    /// Frames per channel, after gapless trimming, when the container says.
    pub frames: Option<u64>,
}

/// One block of decoded audio.
pub(crate) struct Block<'a> {
    pub interleaved: &'a [f32],
    pub channels: usize,
}

/// Symphonia's side: the demuxer, the decoder and the damaged-packet count.
pub(crate) struct Packets {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    interleaved: Vec<f32>,
    bad: usize,
    packets: usize,
}

impl Source {
    /// Opens `source`: as MP3 when `path` ends in `.mp3` and the bytes hold MPEG audio
    /// frames, as PCM when they are a plain PCM WAV, through symphonia otherwise
    /// (`prefer_symphonia` forces it, for the tests that hold the decoders to the same
    /// frames).
    pub(crate) fn open(
        mut source: Box<dyn MediaSource>,
        path: &Path,
        prefer_symphonia: bool,
    ) -> Result<(Self, Params)> {
        let mp3 = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("mp3"));
        if prefer_symphonia {
            return open_symphonia(source, path);
        }
        if mp3 && is_mpeg_audio(&mut source, path)? {
            return open_mp3(source, path);
        }
        match Pcm::open(source, path)? {
            Ok((pcm, layout)) => {
                let params = Params {
                    rate: layout.rate,
                    frames: Some(layout.frames),
                };
                Ok((Source::Pcm(Box::new(pcm)), params))
            }
            Err(source) => open_symphonia(source, path),
        }
    }

    /// The next block, `None` at the end of the stream. A damaged MP3 frame is skipped, as
    /// players do (for symphonia's formats too, unless more than 1% of packets are damaged).
    pub(crate) fn next_block(&mut self, path: &Path) -> Result<Option<Block<'_>>> {
        match self {
            Self::Symphonia(packets) => packets.next_block(path),
            Self::Pcm(pcm) => Ok(pcm.next_block(path)?.map(|(interleaved, channels)| Block {
                interleaved,
                channels,
            })),
            Self::Mp3(reader) => {
                let channels = reader.channels().map_or(1, |c| usize::from(c.num()));
                let frame = reader
                    .read_frame()
                    .map_err(|e| Error::decode(path, format!("MP3: {e}")))?;
                Ok(frame.map(|interleaved| Block {
                    interleaved,
                    channels,
                }))
            }
        }
    }
}

/// Whether the stream starts like MPEG audio; leaves it at its start.
fn is_mpeg_audio(source: &mut Box<dyn MediaSource>, path: &Path) -> Result<bool> {
    let found = nanomp3::detect_reader(&mut *source).map_err(|e| Error::decode(path, e))?;
    source
        .seek(SeekFrom::Start(0))
        .map_err(|e| Error::decode(path, e))?;
    Ok(found)
}

fn open_mp3(source: Box<dyn MediaSource>, path: &Path) -> Result<(Source, Params)> {
    let reader =
        nanomp3::Reader::new(source).map_err(|e| Error::decode(path, format!("MP3: {e}")))?;
    if reader.channels().is_none() {
        return Err(Error::decode(path, "no audio frames"));
    }
    let params = Params {
        rate: reader.sample_rate(),
        frames: reader.total_samples(),
    };
    Ok((Source::Mp3(Box::new(reader)), params))
}

fn open_symphonia(source: Box<dyn MediaSource>, path: &Path) -> Result<(Source, Params)> {
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let mss = MediaSourceStream::new(source, Default::default());
    let format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| Error::decode(path, format!("unsupported or corrupt container: {e}")))?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| Error::decode(path, "no audio track"))?;
    let track_id = track.id;
    let frames = track.num_frames;
    let codec = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| Error::decode(path, "no audio codec parameters"))?;
    let rate = codec
        .sample_rate
        .ok_or_else(|| Error::decode(path, "the stream declares no sample rate"))?;
    let decoder = symphonia::default::get_codecs()
        .make_audio_decoder(codec, &AudioDecoderOptions::default())
        .map_err(|e| Error::decode(path, format!("unsupported codec: {e}")))?;
    let packets = Packets {
        format,
        decoder,
        track_id,
        interleaved: Vec::new(),
        bad: 0,
        packets: 0,
    };
    let params = Params { rate, frames };
    Ok((Source::Symphonia(Box::new(packets)), params))
}

impl Packets {
    fn next_block(&mut self, path: &Path) -> Result<Option<Block<'_>>> {
        loop {
            let packet = match self.format.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => return Ok(None),
                // A stream that ends inside a packet: the caller's length check decides.
                Err(SymphoniaError::IoError(e))
                    if e.kind() == std::io::ErrorKind::UnexpectedEof =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(Error::decode(path, e)),
            };
            if packet.track_id != self.track_id {
                continue;
            }
            self.packets += 1;
            let decoded = match self.decoder.decode(&packet) {
                Ok(d) => d,
                Err(SymphoniaError::DecodeError(e)) => {
                    self.skip_damaged(path, e)?;
                    continue;
                }
                Err(e) => return Err(Error::decode(path, e)),
            };
            let channels = decoded.spec().channels().count().max(1);
            let (skip, take) = trimmed(&packet, decoded.frames());
            decoded.copy_to_vec_interleaved(&mut self.interleaved);
            let interleaved = &self.interleaved[skip * channels..(skip + take) * channels];
            return Ok(Some(Block {
                interleaved,
                channels,
            }));
        }
    }

    /// Counts a damaged packet; a stream with many is refused.
    fn skip_damaged(&mut self, path: &Path, e: &str) -> Result<()> {
        self.bad += 1;
        if self.bad > 10 && self.bad * 100 > self.packets {
            return Err(Error::decode(
                path,
                format!("{} of {} packets are corrupt ({e})", self.bad, self.packets),
            ));
        }
        Ok(())
    }
}

/// The frames of a decoded packet to keep, as `(skip, take)`: decoders that do not trim
/// encoder delay and padding themselves produce the block's full duration, so what the packet
/// declares (LAME tag, iTunes gapless) is trimmed here.
fn trimmed(packet: &symphonia::core::packet::Packet, frames: usize) -> (usize, usize) {
    let valid = packet.dur.get() as usize;
    if frames > valid && valid > 0 {
        let start = (packet.trim_start.get() as usize).min(frames);
        (start, valid.min(frames - start))
    } else {
        (0, frames)
    }
}
