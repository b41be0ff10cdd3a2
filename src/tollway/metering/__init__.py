"""Metering: usage extraction, pricing, the usage journal, its writer and reports."""
