"""The two attackers every membership claim names, defined once for the audits that measure them
(steu_core.audits.mia, the comparison's attacks) and the verdicts that judge them (steu_core.verdicts)."""
from __future__ import annotations

OUTPUTS, MODEL_FILE = "outputs", "model_file"
THREAT_MODELS = {OUTPUTS: "an attacker who sees the model's predictions",
                 MODEL_FILE: "an attacker who has the model file"}
THREAT_MODEL_SHORT = {OUTPUTS: "sees predictions", MODEL_FILE: "has the model file"}  # table cells
