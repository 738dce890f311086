"""Step 1: which classifier is to forget a class."""
from __future__ import annotations

import streamlit as st

from dashboard import common

st.title("1 · Model")
st.markdown("Choose the deployed classifier that must forget a class. It is only read: every change is "
            "written to a **new model version**, and the original stays bit-identical.")

options = (["configured"] if common.configured_model() else []) + ["demo", "local"]
labels = {"configured": f"Configured model ({common.configured_model()})",
          "demo": "Demo model - MiniLM fine-tuned on the sample clinical notes",
          "local": "A checkpoint directory on this machine"}
if st.session_state.get("model_kind") not in options:
    st.session_state["model_kind"] = options[0]
kind = st.radio("Model", options, format_func=labels.get, key="model_kind", persist_state="session",
                label_visibility="collapsed")
if kind == "local":
    st.text_input("Checkpoint directory", key="model_path_value", persist_state="session",
                  placeholder="/models/discharge-classifier",
                  help="A Hugging Face sequence-classification checkpoint: config.json, model.safetensors "
                       "and the tokenizer files, with the label names in id2label.")

slot = st.container()
clf, model_dir, error = common.current_model(prepare=True, where=slot)
if error is not None:
    common.show_error(error, slot)
elif clf is None:
    st.info("Type the path of a checkpoint directory to load it.", icon=":material/folder_open:")
else:
    info = clf.info()
    with st.container(border=True):
        st.markdown(f"#### :material/check_circle: {common.md(common.model_label(kind, model_dir))}")
        c1, c2, c3, c4 = st.columns(4)
        c1.metric("Architecture", info["model_type"].upper(), help=info["architecture"])
        c2.metric("Parameters", f"{info['params_total'] / 1e6:.1f} M", help=f"{info['params_total']:,} parameters")
        c3.metric("Classes", len(info["labels"]))
        c4.metric("Runs will use", common.compute_device().upper() if common.compute_device() == "cpu"
                  else common.compute_device(), help="CUDA GPU when one is available, else Apple MPS, else the CPU.")
        st.markdown("**Label names:** " + " ".join(f":blue-badge[{common.md(lab)}]" for lab in info["labels"]))
        st.caption(f"Vocabulary {info['vocab_size']:,} tokens · hidden size {info['hidden_size']} · "
                   f"directory `{model_dir}`")
    st.session_state["model_dir"] = str(model_dir)
    if st.button("Next: the deletion request", type="primary", icon=":material/arrow_forward:"):
        common.goto("request")
