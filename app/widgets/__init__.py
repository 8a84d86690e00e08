"""Groups of Streamlit widgets a page draws, too big to sit in the page script itself."""
