//! MP3 compression: a real LAME encode and decode (mir-audio's, nanomp3) round trip, time-aligned.
//!
//! The encoder writes a LAME info tag with its delay and padding, and the decoder trims both,
//! so the output has exactly the input's length and is aligned with it sample for sample (a
//! test measures the cross-correlation peak at lag 0). At bitrates whose frames are too small
//! for the tag (32 kbps at 22.05 kHz and below), LAME writes none; then the fixed delay of
//! LAME's encoder (576 samples) and of the MPEG decoder (529 samples) is trimmed instead. Rates
//! MP3 cannot carry are resampled to the nearest higher MP3 rate and back.

use std::num::NonZeroU32;

use mp3lame_encoder::{Bitrate, Builder, DualPcm, FlushGap, Mode, MonoPcm, Quality};
use rand::rngs::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::{Audio, Deformation, Error, Result, files, invalid};

/// MP3 compression at a constant bitrate (audiomentations' `Mp3Compression`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mp3 {
    /// Bitrate in kbps: one of [`Mp3::BITRATES`]. Rates below 32 kHz allow at most 160 kbps,
    /// below 16 kHz at most 64 kbps (the MPEG-2 and 2.5 limits).
    pub bitrate: u32,
}

/// LAME's encoder delay (`ENCDELAY`) plus the MPEG layer III decoder delay (528 + 1), in
/// samples: trimmed when the stream carries no LAME tag saying so.
const UNTAGGED_DELAY: usize = 576 + 529;

/// Sample rates an MP3 stream can carry (MPEG-1, 2 and 2.5).
const RATES: [u32; 9] = [
    8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000,
];

impl Mp3 {
    /// The constant bitrates LAME offers, in kbps.
    pub const BITRATES: [u32; 16] = [
        8, 16, 24, 32, 40, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
    ];

    fn lame_bitrate(&self) -> Result<Bitrate> {
        use Bitrate::*;
        let all = [
            Kbps8, Kbps16, Kbps24, Kbps32, Kbps40, Kbps48, Kbps64, Kbps80, Kbps96, Kbps112,
            Kbps128, Kbps160, Kbps192, Kbps224, Kbps256, Kbps320,
        ];
        Self::BITRATES
            .iter()
            .position(|&b| b == self.bitrate)
            .map(|i| all[i])
            .ok_or_else(|| {
                let valid: Vec<String> = Self::BITRATES.iter().map(u32::to_string).collect();
                invalid(
                    self.name(),
                    format!(
                        "`bitrate` {} kbps is not an MP3 bitrate (valid: {})",
                        self.bitrate,
                        valid.join(", ")
                    ),
                )
            })
    }
}

impl Deformation for Mp3 {
    fn name(&self) -> &'static str {
        "mp3"
    }

    fn validate(&self) -> Result<()> {
        self.lame_bitrate().map(drop)
    }

    fn apply(&self, audio: &mut Audio, _rng: &mut ChaCha8Rng) -> Result<()> {
        let bitrate = self.lame_bitrate()?;
        let sr = audio.sample_rate_hz;
        let frames = audio.frames();
        if frames == 0 {
            return Ok(());
        }
        let mp3_rate = RATES.iter().copied().find(|&r| r >= sr).unwrap_or(48_000);
        let limit = match mp3_rate {
            32_000.. => 320,
            16_000.. => 160,
            _ => 64,
        };
        if self.bitrate > limit {
            return Err(invalid(
                self.name(),
                format!(
                    "`bitrate` {} kbps is above the {limit} kbps MPEG allows at {mp3_rate} Hz",
                    self.bitrate
                ),
            ));
        }
        // Stereo pairs share one joint-stereo stream; any other layout is coded per channel.
        let groups: Vec<Vec<Vec<f32>>> = if audio.channels.len() == 2 {
            vec![std::mem::take(&mut audio.channels)]
        } else {
            std::mem::take(&mut audio.channels)
                .into_iter()
                .map(|c| vec![c])
                .collect()
        };
        for group in groups {
            let resampled = group
                .iter()
                .map(|c| files::resample(c, f64::from(sr), f64::from(mp3_rate)))
                .collect::<Result<Vec<_>>>()?;
            let (bytes, tagged) = encode(&resampled, mp3_rate, bitrate)?;
            let (decoded, rate) = files::decode_bytes(bytes, "<mp3 round trip>.mp3")?;
            for mut channel in decoded {
                if !tagged {
                    channel.drain(..UNTAGGED_DELAY.min(channel.len()));
                }
                let mut back = files::resample(&channel, f64::from(rate), f64::from(sr))?;
                back.resize(frames, 0.0);
                audio.channels.push(back);
            }
        }
        Ok(())
    }
}

/// Encodes one or two channels to a CBR MP3 stream whose first frame is the LAME info tag where
/// it fits; returns the stream and whether it carries the tag.
fn encode(channels: &[Vec<f32>], rate: u32, bitrate: Bitrate) -> Result<(Vec<u8>, bool)> {
    let e = |what: &str, err: &dyn std::fmt::Display| Error::Encode(format!("{what}: {err}"));
    let mut builder = Builder::new().ok_or_else(|| Error::Encode("cannot allocate LAME".into()))?;
    let stereo = channels.len() == 2;
    builder
        .set_num_channels(if stereo { 2 } else { 1 })
        .map_err(|x| e("channels", &x))?;
    builder
        .set_sample_rate(rate)
        .map_err(|x| e("sample rate", &x))?;
    builder
        .set_output_sample_rate(NonZeroU32::new(rate))
        .map_err(|x| e("output sample rate", &x))?;
    builder.set_brate(bitrate).map_err(|x| e("bitrate", &x))?;
    builder
        .set_mode(if stereo {
            Mode::JointStereo
        } else {
            Mode::Mono
        })
        .map_err(|x| e("mode", &x))?;
    builder
        .set_quality(Quality::Good)
        .map_err(|x| e("quality", &x))?;
    builder
        .set_to_write_vbr_tag(true)
        .map_err(|x| e("LAME tag", &x))?;
    let mut encoder = builder.build().map_err(|x| e("init", &x))?;
    let n = channels[0].len();
    let mut out = Vec::with_capacity(n / 4 + 7200);
    // LAME's documented worst case: 1.25 * samples + 7200 bytes.
    for start in (0..n).step_by(1 << 16) {
        let end = (start + (1 << 16)).min(n);
        out.reserve((end - start) * 5 / 4 + 7200);
        if stereo {
            let input = DualPcm {
                left: &channels[0][start..end],
                right: &channels[1][start..end],
            };
            encoder.encode_to_vec(input, &mut out)
        } else {
            encoder.encode_to_vec(MonoPcm(&channels[0][start..end]), &mut out)
        }
        .map_err(|x| e("encode", &x))?;
    }
    out.reserve(7200);
    encoder
        .flush_to_vec::<FlushGap>(&mut out)
        .map_err(|x| e("flush", &x))?;
    // The stream starts with a placeholder frame; overwrite it with the tag, which carries the
    // encoder delay and padding the decoder trims.
    let mut tag = Vec::with_capacity(encoder.lame_tag_size());
    if encoder.lame_tag_encode_to_vec(&mut tag).is_none() {
        return Ok((out, false));
    }
    if tag.len() > out.len() {
        return Err(Error::Encode(
            "the LAME tag is longer than the stream".into(),
        ));
    }
    out[..tag.len()].copy_from_slice(&tag);
    Ok((out, true))
}
