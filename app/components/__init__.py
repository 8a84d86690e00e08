"""Pure plotly figure builders for the Streamlit views (numpy, pandas, plotly only).

One file per kind of chart; import what you need from its module:

* ``downsample`` - MinMax, LTTB and heatmap binning, so traces stay ≤ ~2,000 points
* ``theme``      - run colours, fonts, presentation mode (every figure ends in ``style``)
* ``curves``     - loss / accuracy / lr lines, and one scalar across runs
* ``heatmaps``   - per-layer heatmaps (gradient flow, update ratio, side by side)
* ``bars``       - per-layer bars at one step, dead and saturated units
* ``samples``    - real vs generated points for the GAN lesson

Nothing here imports torch or streamlit, so every builder is unit-tested directly.
"""
