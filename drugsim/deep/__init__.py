"""drugsim.deep"""
