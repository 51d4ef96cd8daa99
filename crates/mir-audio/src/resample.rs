//! Band-limited resampling of whole buffers (rubato).

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, Fft, FixedAsync, FixedSync, Resampler, SincInterpolationParameters,
    SincInterpolationType, WindowFunction,
};

use crate::{Error, Result};

/// Resamples one channel: rubato's FFT resampler for integer rates, its sinc resampler for any
/// other ratio (a pitch shift). The resampler's delay is trimmed, and the output has
/// `round(len * to / from)` samples.
pub fn resample(samples: &[f32], from_hz: f64, to_hz: f64) -> Result<Vec<f32>> {
    if from_hz == to_hz || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let err = |reason: String| Error::Resample {
        from_hz,
        to_hz,
        reason,
    };
    let n = samples.len();
    let wanted = (n as f64 * to_hz / from_hz).round() as usize;
    let input = InterleavedSlice::new(samples, 1, n).map_err(|e| err(e.to_string()))?;
    let integer = |r: f64| r.fract() == 0.0 && r > 0.0 && r < f64::from(u32::MAX);
    let mut resampler: Box<dyn Resampler<f32>> = if integer(from_hz) && integer(to_hz) {
        Box::new(
            Fft::<f32>::new(from_hz as usize, to_hz as usize, 1024, 1, FixedSync::Both)
                .map_err(|e| err(e.to_string()))?,
        )
    } else {
        let params = SincInterpolationParameters {
            sinc_len: 128,
            f_cutoff: None,
            oversampling_factor: 256,
            interpolation: SincInterpolationType::Linear,
            window: WindowFunction::BlackmanHarris2,
        };
        Box::new(
            Async::<f32>::new_sinc(to_hz / from_hz, 1.0, &params, 1024, 1, FixedAsync::Input)
                .map_err(|e| err(e.to_string()))?,
        )
    };
    let out = resampler
        .process_all(&input, n, None)
        .map_err(|e| err(e.to_string()))?;
    let mut out = out.take_data();
    out.resize(wanted, 0.0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampling_keeps_duration_and_frequency() {
        let sr = 44_100;
        let samples: Vec<f32> = (0..sr)
            .map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / sr as f32).sin())
            .collect();
        let out = resample(&samples, f64::from(sr), 22_050.0).unwrap();
        assert_eq!(out.len(), 22_050);
        // Zero crossings of a 440 Hz sine over one second: 440, give or take the edges.
        let crossings = out.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
        assert!((439..=441).contains(&crossings), "{crossings}");
    }
}
