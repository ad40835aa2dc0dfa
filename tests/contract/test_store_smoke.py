from fixative.store import NewTable, Store


def test_create_and_insert(store: Store) -> None:
    store.create_table(NewTable("syn", "synapse", "av", "u1", (4, 4, 40), pcg_table_name="pcg"))
    ids = store.insert_annotations(
        "syn",
        [{"pre_pt": {"position": [1, 2, 3]}, "ctr_pt": {"position": [1, 2, 3]}, "post_pt": {"position": [4, 5, 6]}}],
    )
    assert ids.tolist() == [1]
