"""Each page's plain logic, named after its page (``app/views/<page>.py``): no Streamlit, no torch."""
