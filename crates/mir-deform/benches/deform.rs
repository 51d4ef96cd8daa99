//! Deformation throughput on 10 s of mono audio at 22.05 kHz. Criterion's `elem/s` is seconds
//! of audio per second (the real-time factor).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mir_deform::filter::{BandPass, HighPass, LowPass};
use mir_deform::level::{Clipping, Gain};
use mir_deform::mp3::Mp3;
use mir_deform::noise::{BackgroundNoise, WhiteNoise};
use mir_deform::pitch::{PitchShift, TimeStretch};
use mir_deform::reverb::{ImpulseResponse, RoomReverb, room_ir};
use mir_deform::{Audio, Scenario, Step, apply, files, scenario_rng};

const SR: u32 = 22_050;
const SECONDS: u64 = 10;

/// A chord with vibrato and a noise floor: broadband, like music.
fn music() -> Vec<f32> {
    let frames = SECONDS as usize * SR as usize;
    let mut audio = Audio::mono(mir_audio::chord(frames, SR, 0.15, 1.0), SR);
    let noise = Scenario::new(vec![Step::WhiteNoise(WhiteNoise { snr_db: 40.0 })]);
    apply(&noise, "floor", 0, "music", &mut audio).expect("white noise");
    audio.into_mono()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let ir = dir.path().join("ir.wav");
    let ir_samples = room_ir(0.5, SR, &mut scenario_rng(0, "ir", "bench"));
    files::write_wav(&ir, &Audio::mono(ir_samples, SR)).expect("IR file");
    let noise = dir.path().join("noise.wav");
    files::write_wav(&noise, &Audio::mono(music(), SR)).expect("noise file");

    let steps = [
        Step::WhiteNoise(WhiteNoise { snr_db: 20.0 }),
        Step::Gain(Gain { gain_db: -6.0 }),
        Step::Clipping(Clipping {
            percentile_threshold: 10.0,
        }),
        Step::Mp3(Mp3 { bitrate: 64 }),
        Step::PitchShift(PitchShift { semitones: 2.0 }),
        Step::TimeStretch(TimeStretch {
            rate: 1.25,
            leave_length_unchanged: false,
        }),
        Step::LowPass(LowPass {
            cutoff_frequency: 2000.0,
            rolloff: 24,
        }),
        Step::HighPass(HighPass {
            cutoff_frequency: 200.0,
            rolloff: 12,
        }),
        Step::BandPass(BandPass {
            center_frequency: 1000.0,
            bandwidth_fraction: 1.0,
            rolloff: 12,
        }),
        Step::ImpulseResponse(ImpulseResponse {
            ir_path: ir,
            leave_length_unchanged: true,
        }),
        Step::RoomReverb(RoomReverb {
            rt60_s: 0.5,
            leave_length_unchanged: true,
        }),
        Step::BackgroundNoise(BackgroundNoise {
            sounds_path: noise,
            snr_db: 10.0,
        }),
    ];
    let input = music();
    let mut group = c.benchmark_group("deform_10s_22khz");
    group.sample_size(10);
    group.throughput(Throughput::Elements(SECONDS));
    for step in steps {
        let scenario = Scenario::new(vec![step.clone()]);
        let name = mir_deform::Deformation::name(&step);
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut audio = Audio::mono(input.clone(), SR);
                apply(&scenario, name, 0, "track", &mut audio).expect("deformation");
                audio
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
