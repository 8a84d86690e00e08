"""Pure plotly figure builders for the Streamlit views (numpy, pandas, plotly only).

One file per kind of chart; import what you need from its module:

* ``downsample`` - MinMax, LTTB and heatmap binning, so traces stay ≤ ~2,000 points
* ``theme``      - run colours, fonts, presentation mode (every figure ends in ``style``)
* ``curves``     - one run's loss / accuracy / lr lines, and the smoothing they share
* ``overlays``   - one scalar across runs: a line per run or a seed band per variant, highlight
* ``heatmaps``   - per-layer heatmaps (gradient flow, update ratio, side by side)
* ``bars``       - per-layer bars at one step, dead and saturated units
* ``samples``    - real vs generated points for the GAN lesson
* ``boundary``   - the model's decision boundary over the points (2-D data), or its fitted curve / forecast

Nothing here imports torch or streamlit, so every builder is unit-tested directly.
"""
