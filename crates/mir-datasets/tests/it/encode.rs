//! Test audio in every format the loader reads, encoded here with real encoders: hound (WAV),
//! flacenc (FLAC), LAME (MP3), libvorbis (Ogg Vorbis), FDK AAC (ADTS and MP4/M4A).

use std::io::Cursor;
use std::num::{NonZeroU8, NonZeroU32};
use std::path::Path;

/// Interleaved frames as 16-bit integers.
fn to_i16(interleaved: &[f32]) -> Vec<i16> {
    interleaved
        .iter()
        .map(|&s| (s.clamp(-1.0, 1.0) * 32767.0).round() as i16)
        .collect()
}

/// `channels` planar signals interleaved.
pub fn interleave(planar: &[Vec<f32>]) -> Vec<f32> {
    (0..planar[0].len())
        .flat_map(|i| planar.iter().map(move |c| c[i]))
        .collect()
}

pub fn wav(path: &Path, planar: &[Vec<f32>], sr: u32, bits: u16, float: bool) {
    let spec = hound::WavSpec {
        channels: planar.len() as u16,
        sample_rate: sr,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for s in interleave(planar) {
        if float {
            w.write_sample(s).unwrap();
        } else {
            let max = ((1i64 << (bits - 1)) - 1) as f32;
            w.write_sample((s * max).round() as i32).unwrap();
        }
    }
    w.finalize().unwrap();
}

pub fn flac(path: &Path, planar: &[Vec<f32>], sr: u32) {
    use flacenc::component::BitRepr;
    use flacenc::error::Verify;
    let samples: Vec<i32> = to_i16(&interleave(planar))
        .into_iter()
        .map(i32::from)
        .collect();
    let config = flacenc::config::Encoder::default().into_verified().unwrap();
    let source = flacenc::source::MemSource::from_samples(&samples, planar.len(), 16, sr as usize);
    let stream = flacenc::encode_with_fixed_block_size(&config, source, config.block_size).unwrap();
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream.write(&mut sink).unwrap();
    let mut bytes = sink.as_slice().to_vec();
    // flacenc writes the short last block's size as STREAMINFO's minimum block size; the
    // format (and libFLAC) exclude the last block, and symphonia then refuses the stream.
    // Set the minimum to the maximum, as libFLAC writes fixed-blocksize streams.
    let (min, max) = (8..10, 10..12);
    bytes.copy_within(max, min.start);
    std::fs::write(path, bytes).unwrap();
}

pub fn mp3(path: &Path, planar: &[Vec<f32>], sr: u32) {
    use mp3lame_encoder::{Bitrate, Builder, DualPcm, FlushGap, MonoPcm};
    let mut b = Builder::new().unwrap();
    b.set_num_channels(planar.len() as u8).unwrap();
    b.set_sample_rate(sr).unwrap();
    b.set_brate(Bitrate::Kbps192).unwrap();
    let mut enc = b.build().unwrap();
    let mut out = Vec::with_capacity(planar[0].len() * 2 + 7200);
    if planar.len() == 2 {
        enc.encode_to_vec(
            DualPcm {
                left: &planar[0],
                right: &planar[1],
            },
            &mut out,
        )
        .unwrap();
    } else {
        enc.encode_to_vec(MonoPcm(&planar[0]), &mut out).unwrap();
    }
    enc.flush_to_vec::<FlushGap>(&mut out).unwrap();
    let mut tag = Vec::with_capacity(enc.lame_tag_size());
    enc.lame_tag_encode_to_vec(&mut tag).unwrap();
    out[..tag.len()].copy_from_slice(&tag);
    std::fs::write(path, out).unwrap();
}

pub fn vorbis(path: &Path, planar: &[Vec<f32>], sr: u32) {
    let mut out = Vec::new();
    {
        let mut enc = vorbis_rs::VorbisEncoderBuilder::new_with_serial(
            NonZeroU32::new(sr).unwrap(),
            NonZeroU8::new(planar.len() as u8).unwrap(),
            &mut out,
            7,
        )
        .build()
        .unwrap();
        for start in (0..planar[0].len()).step_by(4096) {
            let end = (start + 4096).min(planar[0].len());
            let block: Vec<&[f32]> = planar.iter().map(|c| &c[start..end]).collect();
            enc.encode_audio_block(&block).unwrap();
        }
        enc.finish().unwrap();
    }
    std::fs::write(path, out).unwrap();
}

/// AAC-LC frames from FDK AAC: ADTS frames when `adts`, raw access units otherwise.
fn aac_frames(planar: &[Vec<f32>], sr: u32, adts: bool) -> Vec<Vec<u8>> {
    use fdk_aac::enc::{AudioObjectType, BitRate, ChannelMode, Encoder, EncoderParams, Transport};
    let enc = Encoder::new(EncoderParams {
        bit_rate: BitRate::Cbr(128_000),
        sample_rate: sr,
        transport: if adts {
            Transport::Adts
        } else {
            Transport::Raw
        },
        channels: if planar.len() == 2 {
            ChannelMode::Stereo
        } else {
            ChannelMode::Mono
        },
        audio_object_type: AudioObjectType::Mpeg4LowComplexity,
    })
    .unwrap();
    let pcm = to_i16(&interleave(planar));
    let step = 1024 * planar.len();
    let mut frames = Vec::new();
    let mut buf = vec![0u8; 8192];
    let mut chunks: Vec<Vec<i16>> = pcm.chunks(step).map(<[i16]>::to_vec).collect();
    // Flush the encoder's look-ahead with silence.
    chunks.extend(std::iter::repeat_n(vec![0; step], 3));
    for chunk in chunks {
        let mut input = &chunk[..];
        while !input.is_empty() {
            let info = enc.encode(input, &mut buf).unwrap();
            if info.output_size > 0 {
                frames.push(buf[..info.output_size].to_vec());
            }
            input = &input[info.input_consumed..];
        }
    }
    frames
}

pub fn adts(path: &Path, planar: &[Vec<f32>], sr: u32) {
    std::fs::write(path, aac_frames(planar, sr, true).concat()).unwrap();
}

pub fn m4a(path: &Path, planar: &[Vec<f32>], sr: u32) {
    use mp4::{
        AacConfig, AudioObjectType, ChannelConfig, MediaConfig, Mp4Config, Mp4Sample, Mp4Writer,
        SampleFreqIndex, TrackConfig, TrackType,
    };
    let config = Mp4Config {
        major_brand: "M4A ".parse().unwrap(),
        minor_version: 0,
        compatible_brands: vec!["M4A ".parse().unwrap(), "isom".parse().unwrap()],
        timescale: 1000,
    };
    let mut writer = Mp4Writer::write_start(Cursor::new(Vec::new()), &config).unwrap();
    writer
        .add_track(&TrackConfig {
            track_type: TrackType::Audio,
            timescale: sr,
            language: "und".into(),
            media_conf: MediaConfig::AacConfig(AacConfig {
                bitrate: 128_000,
                profile: AudioObjectType::AacLowComplexity,
                freq_index: match sr {
                    48_000 => SampleFreqIndex::Freq48000,
                    22_050 => SampleFreqIndex::Freq22050,
                    16_000 => SampleFreqIndex::Freq16000,
                    _ => SampleFreqIndex::Freq44100,
                },
                chan_conf: if planar.len() == 2 {
                    ChannelConfig::Stereo
                } else {
                    ChannelConfig::Mono
                },
            }),
        })
        .unwrap();
    for (i, frame) in aac_frames(planar, sr, false).into_iter().enumerate() {
        writer
            .write_sample(
                1,
                &Mp4Sample {
                    start_time: i as u64 * 1024,
                    duration: 1024,
                    rendering_offset: 0,
                    is_sync: true,
                    bytes: frame.into(),
                },
            )
            .unwrap();
    }
    writer.write_end().unwrap();
    let mut bytes = writer.into_writer().into_inner();
    // The mp4 crate ends the `esds` box with an SLConfigDescriptor of length 0 followed by its
    // predefined byte 0 (`06 00 00`); the descriptor is `06 01 02` (length 1, predefined 2 for
    // MP4 files). ffmpeg tolerates the former, symphonia does not.
    let esds = bytes.windows(4).position(|w| w == b"esds").unwrap();
    let size = u32::from_be_bytes(bytes[esds - 4..esds].try_into().unwrap()) as usize;
    let end = esds - 4 + size;
    assert_eq!(&bytes[end - 3..end], &[6, 0, 0]);
    bytes[end - 3..end].copy_from_slice(&[6, 1, 2]);
    std::fs::write(path, bytes).unwrap();
}
