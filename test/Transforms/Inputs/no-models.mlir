// No nf.model: nothing for nf-export-functions to export.
module {}
