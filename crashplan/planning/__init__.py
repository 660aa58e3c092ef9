"""From host facts and a profile to a checked answer: footprint, options, recommendation, check, fleet."""
