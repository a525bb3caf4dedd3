"""drugsim.classical"""
