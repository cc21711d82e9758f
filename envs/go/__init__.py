"""Go for self-play: rules engine (engine, playout, scoring), point and colour names (coords),
single games (game), batched games (batch), the self-play vector environment (env), symmetries,
GTP (gtp, gtp_client), SGF (sgf) and engine-vs-engine matches (match)."""
