"""Cashiering's writes, one module per thing a newcomer would look for: drawer sessions,
receipt posting (its inputs, its statements), corrections, closing the day, deposits,
returned checks and refunds. Every write is a keyword-only function `<entity>_<action>`;
reads are in `cashiering.selectors`."""
