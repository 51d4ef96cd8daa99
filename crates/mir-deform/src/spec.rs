//! The one-line scenario syntax of the command line: `white_noise snr_db=15 | gain gain_db=-6`.

use serde_json::{Map, Value};

use crate::{Scenario, Step};

/// Parses steps separated by `|`, each a step name followed by `key=value` parameters. Values
/// that parse as numbers or booleans are numbers or booleans; anything else is a string (a
/// path). Errors name the step and list the valid names.
///
/// ```
/// use mir_deform::spec::parse;
///
/// let s = parse("white_noise snr_db=15 | gain gain_db=-6").unwrap();
/// assert_eq!(s.steps.len(), 2);
/// assert!(parse("white_nois snr_db=15").unwrap_err().contains("white_noise"));
/// ```
pub fn parse(text: &str) -> Result<Scenario, String> {
    let steps = text
        .split('|')
        .enumerate()
        .map(|(i, part)| {
            let mut words = part.split_whitespace();
            let name = words
                .next()
                .ok_or_else(|| format!("step {}: empty (expected a step name)", i + 1))?;
            let mut object = Map::new();
            object.insert("type".into(), Value::String(name.into()));
            for word in words {
                let (key, value) = word.split_once('=').ok_or_else(|| {
                    format!("step {} `{name}`: `{word}` is not `key=value`", i + 1)
                })?;
                object.insert(key.into(), value_of(value));
            }
            serde_json::from_value::<Step>(Value::Object(object))
                .map_err(|e| format!("step {} `{name}`: {e}", i + 1))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let scenario = Scenario::new(steps);
    scenario
        .validate()
        .map_err(|(i, e)| format!("step {}: {e}", i + 1))?;
    Ok(scenario)
}

fn value_of(text: &str) -> Value {
    if let Ok(b) = text.parse::<bool>() {
        return Value::Bool(b);
    }
    if let Ok(i) = text.parse::<i64>() {
        return Value::from(i);
    }
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => Value::from(f),
        _ => Value::String(text.into()),
    }
}
