"""Market mode: price sources (random walk, replays, manual quotes), the resting-order
index, the matcher, slippage models and the venue that runs one tick of a market."""
