"""Ground floor: R's own arithmetic reproduced bit for bit (density(), Mersenne-Twister), RNG choice."""
