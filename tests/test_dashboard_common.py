"""dashboard/common.py: the pieces of page markup built outside Streamlit's own elements."""
from dashboard import common


def test_progress_bar_clamps_its_fraction_and_escapes_its_label():
    full = common.progress_html(1.7, "Step <3> & more", "#0f7c8c")
    assert 'aria-valuenow="100"' in full and "width:100.0%" in full
    assert "Step &lt;3&gt; &amp; more" in full and "<3>" not in full
    empty = common.progress_html(-0.2, "Starting", "#0f7c8c")
    assert 'aria-valuenow="0"' in empty and "width:0.0%" in empty
    half = common.progress_html(0.4567, "Unlearning: step 6 of 60", "#0f7c8c")
    assert 'aria-valuenow="46"' in half and "width:45.7%" in half
