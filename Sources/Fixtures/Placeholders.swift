/// Small stand-ins for the non-data members of KuaiRec 2.0 (the real ones are
/// documentation; nothing reads them).
enum Placeholders {
    static let license = """
        Synthetic KuaiRec 2.0 archive written by `replay generate`.

        The real KuaiRec dataset is distributed under the CC BY-SA 4.0 license
        (https://creativecommons.org/licenses/by-sa/4.0/). This file only keeps the
        member layout of the real archive; all data in it is randomly generated.

        """

    static let notebook = """
        {
         "cells": [
          {
           "cell_type": "markdown",
           "metadata": {},
           "source": ["# Statistics of KuaiRec (synthetic placeholder)"]
          }
         ],
         "metadata": {},
         "nbformat": 4,
         "nbformat_minor": 5
        }

        """

    static let svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="117" height="20"><rect width="117" height="20" \
        fill="#555"/><text x="8" y="14" fill="#fff" font-family="Verdana" font-size="11">Open in Colab</text></svg>

        """

    static let loaddata = """
        import pandas as pd

        rootpath = "data/"

        big_matrix = pd.read_csv(rootpath + "big_matrix.csv")
        small_matrix = pd.read_csv(rootpath + "small_matrix.csv")
        social_network = pd.read_csv(rootpath + "social_network.csv")
        social_network["friend_list"] = social_network["friend_list"].map(eval)
        item_categories = pd.read_csv(rootpath + "item_categories.csv")
        item_categories["feat"] = item_categories["feat"].map(eval)
        user_features = pd.read_csv(rootpath + "user_features.csv")
        item_daily_feat = pd.read_csv(rootpath + "item_daily_features.csv")

        """

    /// A valid 1x1 PNG.
    static let png: [UInt8] = [
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D,
        0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
        0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53, 0xDE, 0x00, 0x00, 0x00,
        0x0C, 0x49, 0x44, 0x41, 0x54, 0x78, 0xDA, 0x63, 0xF8, 0x9F, 0xC6, 0x00,
        0x00, 0x03, 0xCD, 0x01, 0x66, 0xFD, 0x91, 0x2C, 0xF6, 0x00, 0x00, 0x00,
        0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ]
}
