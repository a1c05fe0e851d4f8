"""crm-provider: the provider side of Sitoo's CRM SPI v2."""
