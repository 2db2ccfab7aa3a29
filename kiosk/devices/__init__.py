"""Station hardware: barcode scanner and receipt printer, with no Flask inside."""
