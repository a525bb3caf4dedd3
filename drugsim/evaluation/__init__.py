"""drugsim.evaluation"""
