"""Figure styling, HTML fragments and number formatting that every study and the report share."""
