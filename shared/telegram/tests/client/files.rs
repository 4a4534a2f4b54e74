//! Uploads, albums, file downloads, buttons and callback answers against the fake.

use omnidesk_core::{OutgoingFile, TelegramApi, TelegramError};
use omnidesk_domain::{AttachmentKind, Button, TelegramChatId};

use super::{TOKEN, setup};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n fake image bytes";

fn file(kind: AttachmentKind, name: &str, mime: &str, bytes: &[u8]) -> OutgoingFile {
    OutgoingFile {
        kind,
        file_name: name.to_owned(),
        mime_type: mime.to_owned(),
        bytes: bytes.to_vec(),
    }
}

#[tokio::test]
async fn an_uploaded_file_reaches_the_fake_byte_for_byte_by_the_method_of_its_kind() {
    let (fake, client, token) = setup().await;
    let photo = client
        .send_file(
            &token,
            TelegramChatId(42),
            &file(AttachmentKind::Image, "shot.png", "image/png", PNG),
            Some("Here it is"),
        )
        .await
        .unwrap();
    let doc = client
        .send_file(
            &token,
            TelegramChatId(42),
            &file(
                AttachmentKind::File,
                "счёт.pdf",
                "application/pdf",
                b"%PDF-1.7",
            ),
            None,
        )
        .await
        .unwrap();
    let voice = client
        .send_file(
            &token,
            TelegramChatId(42),
            &file(
                AttachmentKind::Voice,
                "note.ogg",
                "audio/ogg",
                b"OggS voice",
            ),
            None,
        )
        .await
        .unwrap();
    assert_eq!((doc, voice), (photo + 1, photo + 2));
    let sent = fake.files_sent();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0].token, TOKEN);
    assert_eq!(sent[0].method, "sendPhoto");
    assert_eq!(sent[0].chat_id, 42);
    assert_eq!(sent[0].caption.as_deref(), Some("Here it is"));
    assert_eq!(sent[0].file_name.as_deref(), Some("shot.png"));
    assert_eq!(sent[0].mime_type.as_deref(), Some("image/png"));
    assert_eq!(sent[0].bytes, PNG);
    assert_eq!(sent[0].message_id, photo);
    assert_eq!(sent[1].method, "sendDocument");
    assert_eq!(sent[1].file_name.as_deref(), Some("счёт.pdf"));
    assert_eq!(sent[1].caption, None);
    assert_eq!(sent[2].method, "sendVoice");
    assert_eq!(sent[2].bytes, b"OggS voice");
}

#[tokio::test]
async fn an_upload_to_a_blocked_chat_is_unreachable_and_not_recorded() {
    let (fake, client, token) = setup().await;
    fake.fail_next(42, omnidesk_telegram::fake::FakeFailure::Blocked);
    let err = client
        .send_file(
            &token,
            TelegramChatId(42),
            &file(AttachmentKind::Image, "a.png", "image/png", PNG),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, TelegramError::Unreachable(_)), "{err:?}");
    assert!(fake.files_sent().is_empty());
}

#[tokio::test]
async fn an_album_is_one_upload_with_the_caption_on_its_first_item() {
    let (fake, client, token) = setup().await;
    let ids = client
        .send_media_group(
            &token,
            TelegramChatId(42),
            &[
                file(AttachmentKind::Image, "1.png", "image/png", PNG),
                file(
                    AttachmentKind::Video,
                    "2.mp4",
                    "video/mp4",
                    b"\0\0\0\x18ftypmp42",
                ),
                file(
                    AttachmentKind::Image,
                    "3.png",
                    "image/png",
                    b"\x89PNG third",
                ),
            ],
            Some("Our holiday"),
        )
        .await
        .unwrap();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[1], ids[0] + 1);
    let sent = fake.files_sent();
    assert_eq!(sent.len(), 3);
    assert!(sent.iter().all(|f| f.method == "sendMediaGroup"));
    let group = sent[0].media_group_id.clone().expect("a media group id");
    assert!(
        sent.iter()
            .all(|f| f.media_group_id.as_ref() == Some(&group))
    );
    assert_eq!(sent[0].caption.as_deref(), Some("Our holiday"));
    assert_eq!(sent[1].caption, None);
    assert_eq!(sent[1].file_name.as_deref(), Some("2.mp4"));
    assert_eq!(sent[2].bytes, b"\x89PNG third");
    assert_eq!(sent.iter().map(|f| f.message_id).collect::<Vec<_>>(), ids);
}

#[tokio::test]
async fn a_file_is_found_with_get_file_and_downloaded_within_the_byte_cap() {
    let (fake, client, token) = setup().await;
    fake.put_file("AgACAgIAAxkBAAIB", PNG.to_vec());
    let info = client.get_file(&token, "AgACAgIAAxkBAAIB").await.unwrap();
    assert_eq!(info.file_size, Some(PNG.len() as u64));
    let path = info.file_path.expect("a download path");
    let bytes = client
        .download_file(&token, &path, PNG.len() as u64)
        .await
        .unwrap();
    assert_eq!(bytes, PNG);
    // One byte under the file's size: refused without keeping the bytes.
    let err = client
        .download_file(&token, &path, PNG.len() as u64 - 1)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TelegramError::Rejected(d) if d.contains("larger than")),
        "{err:?}"
    );
    // A file uploaded by the bot can be fetched back by its file_id.
    client
        .send_file(
            &token,
            TelegramChatId(42),
            &file(AttachmentKind::File, "a.txt", "text/plain", b"hello"),
            None,
        )
        .await
        .unwrap();
    let uploaded = fake.files_sent()[0].file_id.clone();
    let again = client.get_file(&token, &uploaded).await.unwrap();
    let bytes = client
        .download_file(&token, &again.file_path.unwrap(), 1024)
        .await
        .unwrap();
    assert_eq!(bytes, b"hello");
}

#[tokio::test]
async fn unknown_and_too_big_files_are_rejected_as_telegram_rejects_them() {
    let (fake, client, token) = setup().await;
    let err = client.get_file(&token, "nope").await.unwrap_err();
    assert_eq!(
        err,
        TelegramError::Rejected("Bad Request: invalid file_id".to_owned())
    );
    fake.put_large_file("BIG");
    let err = client.get_file(&token, "BIG").await.unwrap_err();
    assert_eq!(
        err,
        TelegramError::Rejected("Bad Request: file is too big".to_owned())
    );
    let err = client
        .download_file(&token, "documents/missing", 1024)
        .await
        .unwrap_err();
    assert!(!err.is_transient(), "{err:?}");
}

#[tokio::test]
async fn buttons_ride_on_send_message_and_callback_answers_are_recorded() {
    let (fake, client, token) = setup().await;
    let id = client
        .send_buttons(
            &token,
            TelegramChatId(42),
            "How was our service?",
            &[
                Button {
                    text: "Good".to_owned(),
                    data: "csat:5".to_owned(),
                },
                Button {
                    text: "Bad".to_owned(),
                    data: "csat:1".to_owned(),
                },
            ],
        )
        .await
        .unwrap();
    let sent = fake.sent();
    assert_eq!(sent[0].message_id, id);
    assert_eq!(sent[0].text, "How was our service?");
    assert_eq!(
        sent[0].buttons,
        vec![
            ("Good".to_owned(), "csat:5".to_owned()),
            ("Bad".to_owned(), "csat:1".to_owned())
        ]
    );
    client
        .answer_callback_query(&token, "4382bfdwdsb323b2d9", Some("Thanks!"))
        .await
        .unwrap();
    client
        .answer_callback_query(&token, "4382bfdwdsb323b2da", None)
        .await
        .unwrap();
    assert_eq!(
        fake.answered(),
        vec![
            ("4382bfdwdsb323b2d9".to_owned(), Some("Thanks!".to_owned())),
            ("4382bfdwdsb323b2da".to_owned(), None)
        ]
    );
}
