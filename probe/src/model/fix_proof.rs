//! What the simulation of one printed fix found (issue 11): made by
//! `diagnosis::simulate`, carried by `diagnose`'s result and by a probe's report.

use super::Change;
use serde::{Deserialize, Serialize};

/// The result of simulating one finding's fix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixProof {
    /// Index of the finding in `Diagnosis::findings`.
    pub finding: usize,
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    /// The alternative chosen (0 = the first choice).
    pub alternative: usize,
    pub changes: Vec<Change>,
    /// True when the finding is gone after the change.
    pub clears: bool,
    /// Errors the change introduces (`CODE on subnet`), and paths it blocks.
    pub breaks: Vec<String>,
    /// The change could not be applied as AWS would (its reason).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Subnets re-evaluated (incremental re-evaluation).
    pub evaluated_subnets: usize,
    /// What the change opens beyond the finding's flow, in words (a deleted NACL deny
    /// stops blocking everything it covered, R20/R21): said even when nothing breaks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub side_effects: Vec<String>,
}

impl FixProof {
    /// `simulated: clears X, breaks nothing` (or what it breaks), in English or Japanese.
    pub fn text(&self, ja: bool) -> String {
        if let Some(r) = &self.refused {
            return if ja {
                format!("シミュレーション: 適用できません（{r}）")
            } else {
                format!("simulated: cannot be applied ({r})")
            };
        }
        let what = match &self.subnet_id {
            Some(s) => format!("{} on {s}", self.code),
            None => self.code.clone(),
        };
        let what_ja = match &self.subnet_id {
            Some(s) => format!("{s} の {}", self.code),
            None => self.code.clone(),
        };
        let side = if self.side_effects.is_empty() {
            String::new()
        } else if ja {
            format!("。副作用: {}", self.side_effects.join("、"))
        } else {
            format!("; side effect: {}", self.side_effects.join("; "))
        };
        let text = match (ja, self.clears, self.breaks.is_empty()) {
            (false, true, true) => format!("simulated: clears {what}, breaks nothing"),
            (false, true, false) => {
                format!(
                    "simulated: clears {what}, but breaks {}",
                    self.breaks.join(", ")
                )
            }
            (false, false, true) => format!("simulated: does not clear {what}; breaks nothing"),
            (false, false, false) => format!(
                "simulated: does not clear {what} and breaks {}",
                self.breaks.join(", ")
            ),
            (true, true, true) => {
                format!("シミュレーション: {what_ja} を解消し、他に影響はありません")
            }
            (true, true, false) => format!(
                "シミュレーション: {what_ja} を解消しますが、次を壊します: {}",
                self.breaks.join("、")
            ),
            (true, false, true) => {
                format!("シミュレーション: {what_ja} は解消しません（他に影響なし）")
            }
            (true, false, false) => format!(
                "シミュレーション: {what_ja} は解消せず、次を壊します: {}",
                self.breaks.join("、")
            ),
        };
        format!("{text}{side}")
    }

    /// Proven: the finding goes and nothing breaks.
    pub fn proven(&self) -> bool {
        self.refused.is_none() && self.clears && self.breaks.is_empty()
    }
}
