"""MeshCNN Explorer: the Streamlit front end (``viz_app/app.py``) over a Streamlit-free service layer."""
