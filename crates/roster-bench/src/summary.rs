//! The closing table: every figure of the run beside its target and, where one was measured, its floor.

use crate::load::Outcome;

pub struct Line {
    measure: String,
    figure: String,
    target: &'static str,
    /// The figure as a multiple of what the machine alone does, and what that is.
    ratio: Option<(f64, String)>,
}

#[derive(Default)]
pub struct Summary {
    lines: Vec<Line>,
}

impl Summary {
    pub fn add(&mut self, measure: impl Into<String>, figure: impl Into<String>, target: &'static str) {
        self.lines.push(Line { measure: measure.into(), figure: figure.into(), target, ratio: None });
    }

    /// A line with its ratio to a floor, described as `floor` ("of hello-world's 61,000 req/s").
    pub fn add_ratio(
        &mut self,
        measure: impl Into<String>,
        figure: impl Into<String>,
        target: &'static str,
        ratio: f64,
        floor: impl Into<String>,
    ) {
        self.lines.push(Line {
            measure: measure.into(),
            figure: figure.into(),
            target,
            ratio: Some((ratio, floor.into())),
        });
    }

    /// An HTTP load's line: rate and latency.
    pub fn add_load(&mut self, measure: &str, outcome: &Outcome, target: &'static str, floor: Option<(f64, &str)>) {
        let figure = format!("{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms", outcome.rate(), outcome.p50(), outcome.p99());
        match floor {
            Some((rate, what)) => {
                self.add_ratio(measure, figure, target, outcome.rate() / rate, format!("{what} {rate:.0}/s"))
            }
            None => self.add(measure, figure, target),
        }
    }

    pub fn print(&self, backend: &str) {
        println!();
        println!("## Summary ({backend})");
        println!();
        println!("| measure | measured | target | ratio to the floor |");
        println!("| --- | --- | --- | --- |");
        for line in &self.lines {
            let ratio = match &line.ratio {
                Some((ratio, floor)) => format!("{ratio:.2}× ({floor})"),
                None => String::new(),
            };
            println!("| {} | {} | {} | {ratio} |", line.measure, line.figure, line.target);
        }
    }

    pub fn json(&self) -> serde_json::Value {
        self.lines
            .iter()
            .map(|line| {
                serde_json::json!({
                    "measure": line.measure, "measured": line.figure, "target": line.target,
                    "ratio": line.ratio.as_ref().map(|(r, _)| *r), "floor": line.ratio.as_ref().map(|(_, f)| f),
                })
            })
            .collect()
    }
}
