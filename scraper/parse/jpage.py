"""Adapter placeholder: being written."""
