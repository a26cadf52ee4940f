def dashboard_cards(user) -> list[dict]:
    return []
