//! `begin-image-upload` Lambda: POST /v1/seller/items/{itemId}/images, a form to upload one image straight to S3.

aisle::http_lambda!(aisle::api::catalog::begin_image_upload);
