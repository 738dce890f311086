"""The STEU Audit dashboard (Streamlit): thin pages over steu_core."""
