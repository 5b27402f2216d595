namespace shapejit::cache {}
